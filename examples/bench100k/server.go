package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// serverRoleEnv, set to "server" in the environment, makes this program
// (or its test binary) the embedded Netskope server instead of the
// benchmark: the benchmark starts itself again that way, so that the
// server's CPU and memory are not the engine's.
const serverRoleEnv = "PROVSYNC_BENCH100K_ROLE"

// statsPath is where the server child reports its counters and resource
// use as JSON, beside the SCIM API.
const statsPath = "/bench/stats"

// serverStats is what the server child reports at statsPath.
type serverStats struct {
	Requests int           `json:"requests"`
	CPU      time.Duration `json:"cpu"`
	MaxRSS   int64         `json:"maxRSS"` // bytes
	GOGC     string        `json:"gogc"`   // the child's GOGC setting
}

// hello is the first line the server child writes to its standard output.
type hello struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// serve is the server child: the embedded Netskope server on a loopback
// port, until its standard input closes (the benchmark ended, however it
// ended).
func serve(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench100k server", flag.ContinueOnError)
	rps := fs.Float64("rps", 0, "rate limit in requests per second (0: none)")
	maxPage := fs.Int("max-page", netskopetest.DefaultMaxPageSize, "largest page returned")
	var sd seedDir
	fs.IntVar(&sd.users, "seed-users", 0, "users of the synthetic directory to store before serving, as a hosted connector left them (0: an empty tenant)")
	fs.IntVar(&sd.groups, "seed-groups", 0, "groups of that directory")
	fs.Float64Var(&sd.memberships, "seed-memberships", 0, "average groups per user of that directory")
	fs.Uint64Var(&sd.seed, "seed", 1, "seed of that directory")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server, from the start of serving to its end, to this path")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv := netskopetest.NewUnstartedServer(netskopetest.WithRateLimit(*rps, 0), netskopetest.WithMaxPageSize(*maxPage))
	defer srv.Close()
	if sd.users > 0 {
		if err := sd.store(srv); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.HandleFunc(statsPath, func(w http.ResponseWriter, _ *http.Request) {
		cpu, rss := rusage()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(serverStats{Requests: srv.Stats().Requests, CPU: cpu, MaxRSS: rss, GOGC: os.Getenv("GOGC")})
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if *cpuProfile != "" {
		stopCPU, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stopCPU()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	if err := json.NewEncoder(stdout).Encode(hello{URL: "http://" + ln.Addr().String() + netskopetest.BasePath, Token: srv.Token()}); err != nil {
		_ = hs.Close()
		return err
	}
	_, _ = io.Copy(io.Discard, stdin)
	_ = hs.Close()
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// seedDir is the synthetic directory a server child stores before it
// serves, without requests, as a hosted connector (Netskope's own, which
// companies move to provsync from) left it: every user and group mapped
// by the default mapping, with the same userName and displayName, but
// with the connector's externalId: see hostedExternalID.
type seedDir struct {
	users, groups int
	memberships   float64
	seed          uint64
}

// hostedExternalID is the externalId a hosted connector left on the i-th
// user or group of the directory, whose source id is id: a third keep the
// source id (as the mapping sets it), a third have none, and a third
// carry the connector's own value. Only the first third are stored as
// the engine maps them; the others take one PATCH each to adopt.
func hostedExternalID(i int, id string) string {
	switch i % 3 {
	case 0:
		return id
	case 1:
		return ""
	}
	return "hosted-" + id
}

// rewritten is how many of n users or groups hostedExternalID gives
// another externalId than the source id.
func rewritten(n int) int { return n - (n+2)/3 }

// store adds the directory's users, then its groups with their members,
// to srv.
func (sd seedDir) store(srv *netskopetest.Server) error {
	dir := synth.Generate(synth.Config{Users: sd.users, Groups: sd.groups, MembershipsPerUser: sd.memberships, Seed: sd.seed})
	d, err := mapping.Default().Map(context.Background(), dir)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	ids := make(map[string]string, len(d.Users)) // source id -> target id
	for i := range d.Users {
		u := d.Users[i].User
		u.ExternalID = hostedExternalID(i, d.Users[i].SourceID)
		got, err := srv.AddUser(u)
		if err != nil {
			return fmt.Errorf("seed: user %q: %w", u.UserName, err)
		}
		ids[d.Users[i].SourceID] = got.ID
	}
	for i := range d.Groups {
		g := d.Groups[i].Group
		g.ExternalID = hostedExternalID(i, d.Groups[i].SourceID)
		g.Members = make([]scim.Member, 0, len(d.Groups[i].Members))
		for _, m := range d.Groups[i].Members {
			if id, ok := ids[m]; ok {
				g.Members = append(g.Members, scim.Member{Value: id})
			}
		}
		if _, err := srv.AddGroup(g); err != nil {
			return fmt.Errorf("seed: group %q: %w", g.DisplayName, err)
		}
	}
	return nil
}

// child is a running server child.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	hello hello
	root  string // scheme and host, for statsPath
}

// startServer starts the server child: this executable again, with
// serverRoleEnv and GOGC=gogc set, storing seed first if it is not nil
// and writing a CPU profile to cpuProfile if it is not "". It waits at
// most a minute for the child's address, and longer for a seeded one.
func startServer(ctx context.Context, rps float64, maxPage, gogc int, seed *seedDir, cpuProfile string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	args := []string{"-rps", strconv.FormatFloat(rps, 'g', -1, 64), "-max-page", strconv.Itoa(maxPage)}
	if cpuProfile != "" {
		args = append(args, "-cpuprofile", cpuProfile)
	}
	wait := time.Minute
	if seed != nil {
		args = append(args, "-seed-users", strconv.Itoa(seed.users), "-seed-groups", strconv.Itoa(seed.groups),
			"-seed-memberships", strconv.FormatFloat(seed.memberships, 'g', -1, 64), "-seed", strconv.FormatUint(seed.seed, 10))
		wait += time.Duration(seed.users/1000) * 3 * time.Second // storing takes a while
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Env = append(os.Environ(), serverRoleEnv+"=server", "GOGC="+strconv.Itoa(gogc)) // the last of duplicate keys wins
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	c := &child{cmd: cmd, stdin: stdin}
	got := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(line, &c.hello)
		}
		got <- err
	}()
	select {
	case err = <-got:
	case <-time.After(wait):
		err = fmt.Errorf("no address within %s", wait)
	}
	if err != nil {
		_ = c.stop()
		return nil, fmt.Errorf("server: starting: %w", err)
	}
	u := c.hello.URL
	c.root = u[:len(u)-len(netskopetest.BasePath)]
	return c, nil
}

// stats asks the child for its counters.
func (c *child) stats(ctx context.Context) (serverStats, error) {
	var st serverStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.root+statsPath, nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, fmt.Errorf("server stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("server stats: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("server stats: %w", err)
	}
	return st, nil
}

// stop closes the child's standard input, which ends it, and waits for
// it; after ten seconds it is killed.
func (c *child) stop() error {
	_ = c.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		return <-done
	}
}
