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
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv := netskopetest.NewUnstartedServer(netskopetest.WithRateLimit(*rps, 0), netskopetest.WithMaxPageSize(*maxPage))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/", srv.Handler())
	mux.HandleFunc(statsPath, func(w http.ResponseWriter, _ *http.Request) {
		cpu, rss := rusage()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(serverStats{Requests: srv.Stats().Requests, CPU: cpu, MaxRSS: rss})
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
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

// child is a running server child.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	hello hello
	root  string // scheme and host, for statsPath
}

// startServer starts the server child: this executable again, with
// serverRoleEnv set. It waits at most a minute for the child's address.
func startServer(ctx context.Context, rps float64, maxPage int) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, "-rps", strconv.FormatFloat(rps, 'g', -1, 64), "-max-page", strconv.Itoa(maxPage))
	cmd.Env = append(os.Environ(), serverRoleEnv+"=server")
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
	case <-time.After(time.Minute):
		err = errors.New("no address within a minute")
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
