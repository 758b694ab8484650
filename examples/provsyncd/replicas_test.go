package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/config"
	"github.com/provsync/provsync/sync/pgstate/pgtest"
	"github.com/provsync/provsync/sync/provlog"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// lockedBuffer is an io.Writer that several goroutines share.
type lockedBuffer struct {
	mu gosync.Mutex
	b  strings.Builder
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// pgPassword is the password the tests put in the state's connection
// string; the test server trusts every local connection, so it is only
// there to be looked for where it must never appear.
const pgPassword = "pg-pw-7f3a9c1e5b"

// pgDSN returns the connection string of a new database, with pgPassword
// in it, and sets it as the environment variable env.
func pgDSN(t *testing.T, env string) string {
	t.Helper()
	u, err := url.Parse(pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), pgPassword)
	t.Setenv(env, u.String())
	return u.String()
}

// directoryYAML is a directory file of users u1..uN (those in gone
// left out, those in renamed with another given name) and groups g-a and
// g-b of the users listed.
func directoryYAML(n int, gone, renamed map[int]bool, a, b []int) string {
	var s strings.Builder
	s.WriteString("users:\n")
	for i := 1; i <= n; i++ {
		if gone[i] {
			continue
		}
		given := fmt.Sprintf("User%d", i)
		if renamed[i] {
			given = fmt.Sprintf("Renamed%d", i)
		}
		fmt.Fprintf(&s, "  - {id: u%d, userName: u%d@example.com, email: u%d@example.com, givenName: %s, familyName: Example}\n", i, i, i, given)
	}
	s.WriteString("groups:\n")
	for _, g := range []struct {
		id      string
		members []int
	}{{"g-a", a}, {"g-b", b}} {
		ids := make([]string, len(g.members))
		for i, m := range g.members {
			ids[i] = fmt.Sprintf("u%d", m)
		}
		fmt.Fprintf(&s, "  - {id: %s, displayName: %s, members: [%s]}\n", g.id, g.id, strings.Join(ids, ", "))
	}
	return s.String()
}

// replica is one provsyncd of TestReplicasSharePostgres.
type replica struct {
	a       *app
	reports cycles
	api     client
	cancel  context.CancelFunc
	stopped chan error
}

// buildReplica writes a replica's configuration to cfgPath (the source
// file dirFile, the target at url with the token from
// $TEST_PROVSYNCD_NS_TOKEN, named acme, the state in PostgreSQL from
// $TEST_PROVSYNCD_PG, a daily interval, and extra) and builds the
// replica as the program does, its cycle reports observed.
func buildReplica(t *testing.T, cfgPath, dirFile, url, extra string, log *zap.Logger, out io.Writer) *replica {
	t.Helper()
	cfg := fmt.Sprintf(`source: {file: {path: %s}}
target:
  url: %s
  token: {env: TEST_PROVSYNCD_NS_TOKEN}
  name: acme
state: {postgres: {env: TEST_PROVSYNCD_PG}}
schedule: {interval: 24h}
`, dirFile, url) + extra
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := loadConfig(options{config: cfgPath})
	if err != nil {
		t.Fatal(err)
	}
	r := &replica{reports: make(cycles, 4), stopped: make(chan error, 1)}
	if r.a, err = build(context.Background(), c, options{config: cfgPath}, log, out, sync.WithObserver(r.reports)); err != nil {
		t.Fatal(err)
	}
	return r
}

// status is the replica's /api/status.
func (r *replica) status(t *testing.T) apiStatus {
	t.Helper()
	var st apiStatus
	if err := json.Unmarshal([]byte(r.api.status("GET", "/api/status", nil, 200)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// cycle asks for a cycle and returns its report.
func (r *replica) cycle() sync.CycleReport {
	r.a.runner.TriggerNow()
	return <-r.reports
}

// Three provsyncd replicas, built from one configuration file as the
// program builds them (source file, the embedded Netskope server behind
// a proxy per replica that counts its writes, state in one PostgreSQL
// with the connection string from the environment), sync one target.
// Cycles are asked for (TriggerNow) and awaited through an observer; the
// interval is a day, so no other cycle runs.
//
//   - Replica 0 starts first and leads; 1 and 2 start and stand by: their
//     cycles are standby and /api/status says "standby" (state and role),
//     the leader's role "leader".
//   - Replica 0's lock session is terminated at its 4th write of the next
//     plan: its cycle ends standby; replica 1's next cycle takes over and
//     finishes the plan, replica 2's and 0's stand by. The writes of 0 and
//     1 add up to the plan's changes, none sent twice, and 1's next cycle
//     has nothing to do.
//   - Replica 1 stops (its Run ends, the app closes, the lock is
//     released): replica 2's next cycle leads and applies the next change
//     of the source; 0 stands by.
//
// No write ever comes from a replica after another replica wrote, and the
// connection string's password appears in no output, log, status, cycle
// report or page.
func TestReplicasSharePostgres(t *testing.T) {
	pgDSN(t, "TEST_PROVSYNCD_PG")
	ns := netskopetest.New(t)
	t.Setenv("TEST_PROVSYNCD_NS_TOKEN", ns.Token())
	dir := t.TempDir()
	dirFile := filepath.Join(dir, "directory.yaml")
	writeDir := func(body string) {
		t.Helper()
		if err := os.WriteFile(dirFile, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeDir(directoryYAML(8, nil, nil, []int{1, 2, 3, 4}, []int{5, 6, 7, 8}))

	var mu gosync.Mutex
	var writers []int // the replica of each write request, in order
	var problems []string
	killAt := -1 // terminate the leader's lock session at this write
	var killed int
	terminate := func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, os.Getenv("TEST_PROVSYNCD_PG"))
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		// The leader lock: the one session-level advisory lock held in this
		// database (pg_terminate_backend with a timeout waits for the
		// backend to end).
		if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid, 60000)) FROM pg_locks
			WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&killed); err != nil {
			t.Error(err)
		}
	}
	logs := &lockedBuffer{}
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(logs), zapcore.DebugLevel))
	outs := &lockedBuffer{}
	reps := make([]*replica, 3)
	for i := range reps {
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet {
				mu.Lock()
				if j, ok := pgtest.Interleaved(writers, i); ok {
					problems = append(problems, fmt.Sprintf("replica %d wrote again after replica %d had", i, j))
				}
				writers = append(writers, i)
				if len(writers) == killAt {
					terminate()
				}
				mu.Unlock()
			}
			ns.Handler().ServeHTTP(w, r)
		}))
		t.Cleanup(front.Close)
		r := buildReplica(t, filepath.Join(dir, fmt.Sprintf("provsync-%d.yaml", i)), dirFile, front.URL+netskopetest.BasePath, "",
			log.Named(fmt.Sprint("replica", i)), outs)
		srv := newServer(r.a.runner, r.a.eng, r.a.history, r.a.plog, r.a.metrics, "", false, zap.NewNop())
		srv.role = r.a.role
		hs := httptest.NewServer(srv.handler())
		t.Cleanup(hs.Close)
		r.api = client{t, hs.URL}
		reps[i] = r
	}
	// Each build checked its access to the tenant with a DELETE of an id
	// that does not exist (netskope.Client.Check): not a write of the sync.
	mu.Lock()
	writers = nil
	mu.Unlock()
	start := func(r *replica) sync.CycleReport {
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		go func() { r.stopped <- r.a.runner.Run(ctx) }()
		return <-r.reports
	}
	stop := func(r *replica) {
		if r.cancel == nil {
			return
		}
		r.cancel()
		if err := <-r.stopped; err != nil {
			t.Errorf("Run: %v", err)
		}
		r.a.close()
		r.cancel = nil
	}
	t.Cleanup(func() {
		for _, r := range reps {
			stop(r)
		}
	})
	// writesBy counts the writes of replica i from write from on.
	writesBy := func(i, from int) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, w := range writers[from:] {
			if w == i {
				n++
			}
		}
		return n
	}
	sent := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(writers)
	}
	planned := func(r *replica) int { return len(r.a.runner.LastPlan().Changes) }
	wantRoles := func(roles ...string) {
		t.Helper()
		for i, want := range roles {
			st := reps[i].status(t)
			if st.Role != want || (want == "standby" && st.State != "standby") {
				t.Errorf("replica %d: /api/status has role %q and state %q; want role %q", i, st.Role, st.State, want)
			}
			if page := reps[i].api.status("GET", "/", nil, 200); !strings.Contains(page, `<td id="role">`+want+":") {
				t.Errorf("replica %d: the page does not show the role %s", i, want)
			}
		}
	}

	// Replica 0 leads; 1 and 2 stand by.
	if rep := start(reps[0]); rep.Outcome != sync.CycleSucceeded || rep.Applied == 0 {
		t.Fatalf("the first replica's first cycle: %s, %d applied (%s)", rep.Outcome, rep.Applied, rep.Error)
	}
	if n, want := sent(), planned(reps[0]); n != want {
		t.Errorf("the first cycle sent %d writes for a plan of %d changes", n, want)
	}
	for i := 1; i < 3; i++ {
		if rep := start(reps[i]); rep.Outcome != sync.CycleStandby || rep.Reason != sync.ReasonStateLocked || rep.Applied != 0 {
			t.Fatalf("replica %d's first cycle: %s (%s), %d applied; want standby, state-locked", i, rep.Outcome, rep.Reason, rep.Applied)
		}
	}
	wantRoles("leader", "standby", "standby")
	// A standby holds no approvals: it says so, and to ask the leader.
	token := "standby-token"
	standby := newServer(reps[1].a.runner, reps[1].a.eng, reps[1].a.history, nil, nil, token, false, zap.NewNop())
	standby.role = reps[1].a.role
	hs := httptest.NewServer(standby.handler())
	c := client{t, hs.URL}
	c.status("GET", "/api/approvals", nil, http.StatusServiceUnavailable)
	c.status("POST", "/api/approvals/0123456789abcdef/approve", bearer(token), http.StatusServiceUnavailable)
	if page := c.status("GET", "/", nil, 200); strings.Contains(page, `class="failed"`) {
		t.Errorf("a standby's page shows a failure:\n%s", page)
	}
	hs.Close()

	// The source changes: six hires, two renames, one leaver, new
	// members. Replica 0's lock session ends at its 4th write.
	writeDir(directoryYAML(14, map[int]bool{8: true}, map[int]bool{1: true, 2: true}, []int{1, 2, 3, 4, 9, 10}, []int{5, 6, 7}))
	before := sent()
	mu.Lock()
	killAt = before + 4
	mu.Unlock()
	if rep := reps[0].cycle(); rep.Outcome != sync.CycleStandby || rep.Reason != sync.ReasonStateLocked {
		t.Fatalf("the leader's cycle after it lost its lock: %s (%s) %s; want standby, state-locked", rep.Outcome, rep.Reason, rep.Error)
	}
	// The handler that terminated the session holds mu until the
	// termination is done; the cycle can notice the lost lock before.
	mu.Lock()
	nKilled := killed
	mu.Unlock()
	if nKilled != 1 {
		t.Fatalf("%d lock sessions terminated (%d writes sent, %d before the cycle); want the leader's\nlog:\n%s", nKilled, sent(), before, logs.String())
	}
	needed := planned(reps[0])
	if needed <= 4 {
		t.Fatalf("the plan has %d changes; the test needs more than 4", needed)
	}
	if rep := reps[1].cycle(); rep.Outcome != sync.CycleSucceeded {
		t.Fatalf("replica 1 after the leader's session ended: %s (%s) %s; want it to take over", rep.Outcome, rep.Reason, rep.Error)
	}
	for _, i := range []int{2, 0} {
		if rep := reps[i].cycle(); rep.Outcome != sync.CycleStandby {
			t.Errorf("replica %d while replica 1 leads: %s (%s) %s; want standby", i, rep.Outcome, rep.Reason, rep.Error)
		}
	}
	wantRoles("standby", "leader", "standby")
	if w0, w1, all := writesBy(0, before), writesBy(1, before), sent()-before; w0 < 4 || w0+w1 != all || all != needed {
		t.Errorf("replicas 0 and 1 sent %d and %d writes, %d in all, for a plan of %d changes; want each sent once", w0, w1, all, needed)
	}
	if rep := reps[1].cycle(); rep.Outcome != sync.CycleSucceeded || changes(rep.Planned) != 0 || rep.Applied != 0 {
		t.Errorf("the new leader's next cycle: %s, planned %+v; want nothing to do", rep.Outcome, rep.Planned)
	}
	if users, active := ns.UserCount(), activeUsers(ns); users != 14 || active != 13 {
		t.Errorf("the target holds %d users, %d active; want 14, 13 (u8 left)", users, active)
	}

	// Replica 1 stops and releases the lock: replica 2 takes over at its
	// next cycle and applies the source's next change.
	stop(reps[1])
	writeDir(directoryYAML(16, map[int]bool{8: true}, map[int]bool{1: true, 2: true, 3: true}, []int{1, 2, 3, 4, 9, 10, 15}, []int{5, 6, 7, 16}))
	before = sent()
	if rep := reps[2].cycle(); rep.Outcome != sync.CycleSucceeded || rep.Applied == 0 {
		t.Fatalf("replica 2 after replica 1 stopped: %s, %d applied (%s)", rep.Outcome, rep.Applied, rep.Error)
	}
	if rep := reps[0].cycle(); rep.Outcome != sync.CycleStandby {
		t.Errorf("replica 0 while replica 2 leads: %s (%s) %s; want standby", rep.Outcome, rep.Reason, rep.Error)
	}
	if w2, all, want := writesBy(2, before), sent()-before, planned(reps[2]); w2 != all || all != want {
		t.Errorf("after the handover %d writes were sent, %d by replica 2, for a plan of %d changes", all, w2, want)
	}
	for i, want := range []string{"standby", "", "leader"} {
		if i != 1 {
			if st := reps[i].status(t); st.Role != want {
				t.Errorf("replica %d's role: %q; want %q", i, st.Role, want)
			}
		}
	}
	if users := ns.UserCount(); users != 16 {
		t.Errorf("the target holds %d users; want 16", users)
	}

	mu.Lock()
	for _, p := range problems {
		t.Error(p)
	}
	mu.Unlock()
	// The password is nowhere to be seen.
	seen := map[string]string{"output": outs.String(), "log": logs.String()}
	for i, r := range reps {
		if i == 1 {
			continue
		}
		seen[fmt.Sprintf("replica %d's status", i)] = r.api.status("GET", "/api/status", nil, 200)
		seen[fmt.Sprintf("replica %d's cycles", i)] = r.api.status("GET", "/api/cycles", nil, 200)
		seen[fmt.Sprintf("replica %d's page", i)] = r.api.status("GET", "/", nil, 200)
	}
	for what, text := range seen {
		if strings.Contains(text, pgPassword) {
			t.Errorf("the %s shows the database password", what)
		}
	}
	if !strings.Contains(logs.String(), "leader lock taken") {
		t.Error("the log does not say when a replica took the lead")
	}
}

// activeUsers counts the server's active users.
func activeUsers(ns *netskopetest.Server) int {
	n := 0
	for _, u := range ns.Users() {
		if u.Active == nil || *u.Active {
			n++
		}
	}
	return n
}

// A connection string that does not parse, or a database that cannot be
// reached, is an error that names the key and never the password; so is
// the output of -check-config.
func TestPostgresStateErrorsHideThePassword(t *testing.T) {
	ns := netskopetest.New(t)
	t.Setenv("TEST_PROVSYNCD_NS_TOKEN", ns.Token())
	dir := t.TempDir()
	write := writer(t, dir)
	dirFile := write("directory.yaml", directoryYAML(1, nil, nil, nil, nil))
	cfgPath := write("provsync.yaml", fmt.Sprintf(`source: {file: {path: %s}}
target: {url: %s, token: {env: TEST_PROVSYNCD_NS_TOKEN}}
state: {postgres: {env: TEST_PROVSYNCD_PG}}
`, dirFile, ns.URL()))
	for _, dsn := range []string{
		"postgres://provsync:" + pgPassword + "@127.0.0.1:notaport/provsync",
		"postgres://provsync:" + pgPassword + "@127.0.0.1:1/provsync?connect_timeout=5",
		"host=127.0.0.1 port=1 user=provsync password=" + pgPassword + " connect_timeout=5",
		"host=127.0.0.1 port=x password='" + pgPassword + "'",
	} {
		t.Setenv("TEST_PROVSYNCD_PG", dsn)
		var out strings.Builder
		err := run(context.Background(), []string{"-config", cfgPath, "-check-config"}, &out)
		if err != nil || !strings.Contains(out.String(), "state postgres (connection string from $TEST_PROVSYNCD_PG)") || strings.Contains(out.String(), pgPassword) {
			t.Errorf("-check-config: %v\n%s", err, out.String())
		}
		out.Reset()
		err = run(context.Background(), []string{"-config", cfgPath, "-once"}, &out)
		if err == nil || !strings.Contains(err.Error(), "state.postgres") {
			t.Errorf("-once with %s: %v; want an error naming state.postgres", strings.ReplaceAll(dsn, pgPassword, "PASSWORD"), err)
		}
		t.Logf("-once: %s", strings.ReplaceAll(fmt.Sprint(err), pgPassword, "PASSWORD"))
		if err != nil && strings.Contains(err.Error(), pgPassword) || strings.Contains(out.String(), pgPassword) {
			t.Errorf("the error or the output shows the password: %s\n%s",
				strings.ReplaceAll(fmt.Sprint(err), pgPassword, "PASSWORD"), strings.ReplaceAll(out.String(), pgPassword, "PASSWORD"))
		}
	}
	// Written in the file, the connection string is refused, and not
	// repeated.
	literal := write("literal.yaml", "state: postgres://provsync:"+pgPassword+"@db.example.com/provsync\n")
	if _, err := config.Load(literal); err == nil || strings.Contains(err.Error(), pgPassword) || !strings.Contains(err.Error(), "literal.yaml:1:8: state: ") {
		t.Errorf("a connection string as the state's path: %v", err != nil)
	}
}

// The README's replicas configuration parses, with its state in
// PostgreSQL under the target's name.
func TestReadmeReplicasConfig(t *testing.T) {
	_, sec, ok := strings.Cut(readmeSection(t), "### Replicas\n")
	if !ok {
		t.Fatal("the Run provsyncd section has no Replicas part")
	}
	_, block, ok := strings.Cut(sec, "```yaml\n")
	if !ok {
		t.Fatal("the Replicas part has no yaml block")
	}
	block, _, _ = strings.Cut(block, "```")
	cfg, err := config.Parse([]byte(block))
	if err != nil {
		t.Fatalf("the README's replicas configuration: %v\n%s", err, block)
	}
	if s := cfg.Service; s.State.Kind() != "postgres" || s.State.Postgres.Env == "" || s.Target.Name == "" {
		t.Errorf("the README's replicas configuration read as state %s, target name %q", s.State, s.Target.Name)
	}
}

// childLines reads a child provsyncd's output line by line.
type childLines struct {
	t      *testing.T
	lines  *bufio.Scanner
	stderr *strings.Builder
	seen   []string
}

// next reads lines up to one that contains want, and returns it.
func (c *childLines) next(want string) string {
	c.t.Helper()
	for c.lines.Scan() {
		c.seen = append(c.seen, c.lines.Text())
		if strings.Contains(c.lines.Text(), want) {
			return c.lines.Text()
		}
	}
	c.t.Fatalf("the output ended before %q:\n%s\nstderr:\n%s", want, strings.Join(c.seen, "\n"), c.stderr.String())
	return ""
}

// Two provsyncd processes with one configuration and the state in one
// PostgreSQL: the first leads, the second stands by (its status says
// so). The leader is killed (SIGKILL) while a write of its cycle is held
// in flight, the held write then landing; once PostgreSQL has ended its
// session, the standby's next cycle takes over and creates the hires the
// dead leader had not, each exactly once, and its next cycle has nothing
// to do.
func TestReplicaKilledMidApply(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGKILL")
	}
	dsn := pgDSN(t, "TEST_PROVSYNCD_PG")
	ns := netskopetest.New(t)
	const token = "replica-api-token-81d2"
	env := []string{"TEST_PROVSYNCD_NS_TOKEN=" + ns.Token(), "TEST_PROVSYNCD_PG=" + dsn, "TEST_PROVSYNCD_API_TOKEN=" + token}

	var mu gosync.Mutex
	creates, holdAt := 0, 0
	reached, release := make(chan struct{}), make(chan struct{})
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			mu.Lock()
			if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/Users") {
				creates++
			}
			hold := creates == holdAt && r.Method == http.MethodPost
			mu.Unlock()
			if hold {
				close(reached)
				<-release
			}
		}
		// The request lands even if its sender died meanwhile.
		ns.Handler().ServeHTTP(w, r.WithContext(context.WithoutCancel(r.Context())))
	}))
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		front.Close()
	})
	dir := t.TempDir()
	write := writer(t, dir)
	write("directory.yaml", directoryYAML(4, nil, nil, []int{1, 2}, []int{3, 4}))
	cfgPath := write("provsync.yaml", fmt.Sprintf(`source: {file: {path: %s}}
target: {url: %s, token: {env: TEST_PROVSYNCD_NS_TOKEN}, name: acme}
state: {postgres: {env: TEST_PROVSYNCD_PG}}
schedule: {interval: 24h}
listener: {address: "127.0.0.1:0", token: {env: TEST_PROVSYNCD_API_TOKEN}}
`, filepath.Join(dir, "directory.yaml"), front.URL+netskopetest.BasePath))

	startReplica := func() (*exec.Cmd, *childLines, client) {
		cmd, out, stderr := startChild(t, env, "-config", cfgPath)
		c := &childLines{t: t, lines: out, stderr: stderr}
		base := strings.TrimSuffix(strings.TrimPrefix(c.next("status page at "), "status page at "), "/")
		return cmd, c, client{t, base}
	}
	role := func(c client) string {
		var st apiStatus
		if err := json.Unmarshal([]byte(c.status("GET", "/api/status", nil, 200)), &st); err != nil {
			t.Fatal(err)
		}
		return st.Role
	}
	leader, leaderOut, leaderAPI := startReplica()
	if line := leaderOut.next("(start): "); !strings.Contains(line, "succeeded") {
		t.Fatalf("the first replica's first cycle: %s", line)
	}
	_, standbyOut, standbyAPI := startReplica()
	if line := standbyOut.next("(start): "); !strings.Contains(line, "standby") {
		t.Fatalf("the second replica's first cycle: %s", line)
	}
	if l, s := role(leaderAPI), role(standbyAPI); l != "leader" || s != "standby" {
		t.Fatalf("roles: %q and %q; want leader and standby", l, s)
	}

	// Eight hires; the leader dies while its third create is in flight.
	const hires = 8
	mu.Lock()
	before := creates
	holdAt = before + 3
	mu.Unlock()
	write("directory.yaml", directoryYAML(4+hires, nil, nil, []int{1, 2}, []int{3, 4}))
	leaderAPI.status("POST", "/api/run", bearer(token), 202)
	<-reached
	if err := leader.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = leader.Wait()
	close(release)

	// PostgreSQL ends the dead leader's session as it notices the closed
	// connection; wait for that, not for a time.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var held int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&held); err != nil {
			t.Fatal(err)
		}
		if held == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the dead leader's lock is still held after a minute")
		}
	}
	standbyAPI.status("POST", "/api/run", bearer(token), 202)
	if line := standbyOut.next("(manual): "); !strings.Contains(line, "succeeded") || !strings.Contains(line, " 0 failed") {
		t.Fatalf("the standby's cycle after the leader died: %s", line)
	}
	if r := role(standbyAPI); r != "leader" {
		t.Errorf("the standby's role after it took over: %q", r)
	}
	standbyAPI.status("POST", "/api/run", bearer(token), 202)
	if line := standbyOut.next("(manual): "); !strings.Contains(line, "succeeded; planned 0 changes") {
		t.Errorf("the new leader's next cycle: %s", line)
	}
	mu.Lock()
	sent := creates - before
	mu.Unlock()
	if users := ns.UserCount(); sent != hires || users != 4+hires {
		t.Errorf("%d user creates sent for %d hires; the target holds %d users, want %d", sent, hires, users, 4+hires)
	}
	for _, line := range append(leaderOut.seen, standbyOut.seen...) {
		if strings.Contains(line, pgPassword) {
			t.Errorf("the output shows the database password")
		}
	}
}

// sixUsers sets $TEST_PROVSYNCD_PG to a new database and
// $TEST_PROVSYNCD_NS_TOKEN to a new Netskope server's token, and writes a
// directory of users u1..u6 in groups g-a (1-3) and g-b (4-6) into a
// temporary directory: it returns the server, the directory and the
// directory file.
func sixUsers(t *testing.T) (ns *netskopetest.Server, dir, dirFile string) {
	t.Helper()
	pgDSN(t, "TEST_PROVSYNCD_PG")
	ns = netskopetest.New(t)
	t.Setenv("TEST_PROVSYNCD_NS_TOKEN", ns.Token())
	dir = t.TempDir()
	dirFile = filepath.Join(dir, "directory.yaml")
	if err := os.WriteFile(dirFile, []byte(directoryYAML(6, nil, nil, []int{1, 2, 3}, []int{4, 5, 6})), 0o600); err != nil {
		t.Fatal(err)
	}
	return ns, dir, dirFile
}

// TestReplicasShareTheProvisioningLog: two replicas with the state in
// PostgreSQL. Replica 0 leads and provisions the directory while replica 1
// stands by; replica 0 stops, the source renames u1, and replica 1 takes
// over. Replica 1's /api/log holds the whole history: replica 0's create
// of u1, then its own update, every applied change of both cycles, and
// the API call made to replica 0.
// Replica 1's log: key names a file, which is not written.
func TestReplicasShareTheProvisioningLog(t *testing.T) {
	ns, dir, dirFile := sixUsers(t)
	logFile := filepath.Join(dir, "prov.jsonl")
	outs := &lockedBuffer{}
	reps := make([]*replica, 2)
	for i := range reps {
		extra := ""
		if i == 1 {
			extra = "log: " + logFile + "\n"
		}
		r := buildReplica(t, filepath.Join(dir, fmt.Sprintf("provsync-%d.yaml", i)), dirFile, ns.URL(), extra, zap.NewNop(), outs)
		hs := httptest.NewServer(newServer(r.a.runner, r.a.eng, r.a.history, r.a.plog, r.a.metrics, "", false, zap.NewNop()).handler())
		t.Cleanup(hs.Close)
		r.api = client{t, hs.URL}
		ctx, cancel := context.WithCancel(context.Background())
		r.cancel = cancel
		go func() { r.stopped <- r.a.runner.Run(ctx) }()
		t.Cleanup(func() {
			if r.cancel != nil {
				r.cancel()
				<-r.stopped
				r.a.close()
			}
		})
		reps[i] = r
	}
	first := <-reps[0].reports
	if first.Outcome != sync.CycleSucceeded || first.Applied == 0 {
		t.Fatalf("replica 0's first cycle: %s, %d applied (%s)", first.Outcome, first.Applied, first.Error)
	}
	if rep := <-reps[1].reports; rep.Outcome != sync.CycleStandby {
		t.Fatalf("replica 1's first cycle: %s (%s); want standby", rep.Outcome, rep.Reason)
	}
	// A call to replica 0's API (refused: it has no token) is history too.
	reps[0].api.status("POST", "/api/retry-failed", nil, http.StatusForbidden)
	reps[0].cancel()
	if err := <-reps[0].stopped; err != nil {
		t.Fatal(err)
	}
	reps[0].a.close()
	reps[0].cancel = nil
	if err := os.WriteFile(dirFile, []byte(directoryYAML(6, nil, map[int]bool{1: true}, []int{1, 2, 3}, []int{4, 5, 6})), 0o600); err != nil {
		t.Fatal(err)
	}
	second := reps[1].cycle()
	if second.Outcome != sync.CycleSucceeded || second.Applied == 0 {
		t.Fatalf("replica 1 after replica 0 stopped: %s, %d applied (%s)", second.Outcome, second.Applied, second.Error)
	}

	var u1 []provlog.Event
	if err := json.Unmarshal([]byte(reps[1].api.status("GET", "/api/log?object=U1@example.com", nil, 200)), &u1); err != nil {
		t.Fatal(err)
	}
	if len(u1) != 2 || u1[0].Action != sync.ActionCreateUser || u1[0].Cycle != first.ID ||
		u1[1].Action != sync.ActionUpdateUser || u1[1].Cycle != second.ID {
		t.Fatalf("replica 1's history of u1: %+v; want replica 0's create, then its own update", u1)
	}
	var applied []provlog.Event
	if err := json.Unmarshal([]byte(reps[1].api.status("GET", "/api/log?outcome=applied", nil, 200)), &applied); err != nil {
		t.Fatal(err)
	}
	if want := first.Applied + second.Applied; len(applied) != want {
		t.Errorf("replica 1's history holds %d applied changes; the two cycles applied %d", len(applied), want)
	}
	var calls []provlog.Event
	if err := json.Unmarshal([]byte(reps[1].api.status("GET", "/api/log?kind=api", nil, 200)), &calls); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].API == nil || calls[0].API.Call != "retry-failed" || calls[0].Outcome != provlog.OutcomeRefused {
		t.Errorf("replica 1's history of API calls: %+v; want replica 0's refused retry-failed", calls)
	}
	if _, err := os.Stat(logFile); !os.IsNotExist(err) {
		t.Errorf("the log file was written (%v); the log is in the database", err)
	}
	if !strings.Contains(outs.String(), "log: "+logFile+" is not written") {
		t.Errorf("the output does not say that the log file is not written:\n%s", outs.String())
	}
}

// TestReplicaLogRetention: logRetention in the file reaches the
// provisioning log in PostgreSQL: with maxRows: 3, the first cycle's
// events beyond the newest three are deleted once the cycle ends.
func TestReplicaLogRetention(t *testing.T) {
	ns, dir, dirFile := sixUsers(t)
	r := buildReplica(t, filepath.Join(dir, "provsync.yaml"), dirFile, ns.URL(), "logRetention: {maxAge: 30d, maxRows: 3}\n",
		zap.NewNop(), &lockedBuffer{})
	t.Cleanup(func() { r.a.close() })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { r.stopped <- r.a.runner.Run(ctx) }()
	rep := <-r.reports
	cancel()
	if err := <-r.stopped; err != nil {
		t.Fatal(err)
	}
	if rep.Outcome != sync.CycleSucceeded || rep.Applied <= 3 {
		t.Fatalf("first cycle: %s, %d applied (%s); want more than 3 changes", rep.Outcome, rep.Applied, rep.Error)
	}
	var rows int
	if err := r.a.pool.QueryRow(context.Background(), "SELECT count(*) FROM provsync_log WHERE target = 'acme'").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 3 {
		t.Errorf("the log holds %d events after the cycle, want the newest 3 of %d", rows, rep.Applied)
	}
}
