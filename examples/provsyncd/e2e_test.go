package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/provsync/provsync/source/onelogin/onelogintest"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/provlog"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// oneLoginApp is the OneLogin app (the Netskope connector) of the end-to-end test.
const oneLoginApp = 777

// provsyncd end to end, as its own process, with a fake OneLogin as its
// source (secret from the environment) and the embedded Netskope server
// behind a gate as its target: cycles asked for over HTTP pick up a user
// added and one suspended at the source; a group's creation is held for
// approval, approved over HTTP and applied; /metrics counts the cycles;
// /api/log holds the changes and the API calls, never the token. Then
// SIGTERM arrives while a cycle is applying: the program exits 0, and
// the next run (-once) has nothing left to do.
func TestEndToEnd(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("SIGTERM")
	}
	ol := onelogintest.New(t)
	addUser := func(name string) int64 {
		u := ol.AddUser(onelogintest.User{Username: name + "@example.com", Email: name + "@example.com", Firstname: name,
			Lastname: "Example", Status: 1, State: 1})
		ol.AssignApp(oneLoginApp, u.ID)
		return u.ID
	}
	ada, grace, alan := addUser("ada"), addUser("grace"), addUser("alan")
	ol.AddRole(onelogintest.Role{Name: "Engineering", Apps: []int64{oneLoginApp}, Users: []int64{ada, grace}})
	ns := netskopetest.NewServer()
	t.Cleanup(ns.Close)
	g := newGate(t, ns, 0)

	dir := t.TempDir()
	const token = "e2e-api-token-4f1c9a7d2b"
	tokenFile := filepath.Join(dir, "api-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clientID, secret := ol.Credentials()
	cfgPath := filepath.Join(dir, "provsync.yaml")
	cfg := fmt.Sprintf(`source:
  onelogin:
    url: %s
    clientId: %s
    clientSecret: {env: TEST_PROVSYNCD_OL_SECRET}
    appId: %d
target:
  url: %s
  token: {env: TEST_PROVSYNCD_NS_TOKEN}
state: %s
log: %s
schedule: {interval: 24h}
listener: {address: "127.0.0.1:0", token: {file: %s}}
approval: [create-group]
`, ol.URL(), clientID, oneLoginApp, g.url, filepath.Join(dir, "state.json"), filepath.Join(dir, "prov.jsonl"), tokenFile)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"TEST_PROVSYNCD_OL_SECRET=" + secret, "TEST_PROVSYNCD_NS_TOKEN=" + ns.Token()}

	cmd, out, stderr := startChild(t, env, "-config", cfgPath)
	var head []string
	for out.Scan() && !strings.HasPrefix(out.Text(), "status page at ") {
		head = append(head, out.Text())
	}
	if !strings.HasPrefix(out.Text(), "status page at ") {
		t.Fatalf("no status page line:\n%s\nstderr:\n%s", strings.Join(head, "\n"), stderr.String())
	}
	c := client{t, strings.TrimSuffix(strings.TrimPrefix(out.Text(), "status page at "), "/")}
	rest := make(chan string, 1)
	go func() { rest <- readAll(out) }()

	// cycle waits, with a deadline, for the n-th cycle to finish, and
	// returns its report.
	cycle := func(n int) sync.CycleReport {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			var st sync.RunnerStatus
			if err := json.Unmarshal([]byte(c.status("GET", "/api/status", nil, 200)), &st); err != nil {
				t.Fatal(err)
			}
			if st.Cycles >= n && st.LastCycle != nil {
				if st.Cycles > n {
					t.Fatalf("cycle %d: %d cycles ran", n, st.Cycles)
				}
				return *st.LastCycle
			}
			if time.Now().After(deadline) {
				t.Fatalf("cycle %d did not finish: status %+v\nstderr:\n%s", n, st, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	target := func() map[string]bool { // userName: active
		users := map[string]bool{}
		for _, u := range ns.Users() {
			users[u.UserName] = u.Active == nil || *u.Active
		}
		return users
	}

	// 1: the three users are created; the role's group waits for approval.
	if r := cycle(1); r.Outcome != sync.CycleSucceeded || r.Planned.CreateUsers != 3 || r.PendingApprovals != 1 || r.Failed != 0 {
		t.Fatalf("first cycle %+v", r)
	}
	if got := target(); len(got) != 3 || !got["ada@example.com"] || !got["alan@example.com"] || len(ns.Groups()) != 0 {
		t.Fatalf("target after the first cycle: users %v, %d groups", got, len(ns.Groups()))
	}

	// 2: a user added and one suspended at the source, picked up by the
	// cycle asked for; a call without the token changes nothing.
	addUser("linus")
	if err := ol.UpdateUser(alan, func(u *onelogintest.User) { u.Status = 2 }); err != nil {
		t.Fatal(err)
	}
	c.status("POST", "/api/run", nil, 401)
	c.status("POST", "/api/run", bearer(token), 202)
	if r := cycle(2); r.Outcome != sync.CycleSucceeded || r.Planned.CreateUsers != 1 || r.Planned.DeactivateUsers != 1 || r.Applied != 2 || r.PendingApprovals != 1 {
		t.Fatalf("second cycle %+v", r)
	}
	if got := target(); len(got) != 4 || !got["linus@example.com"] || got["alan@example.com"] {
		t.Fatalf("target after the second cycle: %v; want linus created and alan inactive", got)
	}

	// 3: the held group approved over HTTP and applied.
	ids := pending(t, c)
	if len(ids) != 1 {
		t.Fatalf("pending approvals %v", ids)
	}
	c.status("POST", "/api/approvals/"+ids[0]+"/approve", bearer(token), 202)
	c.status("POST", "/api/run", bearer(token), 202)
	if r := cycle(3); r.Outcome != sync.CycleSucceeded || r.Applied == 0 || r.PendingApprovals != 0 || r.Failed != 0 {
		t.Fatalf("third cycle %+v", r)
	}
	if gs := ns.Groups(); len(gs) != 1 || gs[0].DisplayName != "Engineering" {
		t.Fatalf("target groups after approving: %+v", gs)
	}

	// /metrics counts the three succeeded cycles.
	if n := metricSum(c.status("GET", "/metrics", nil, 200), "provsync_runner_cycles_total", `outcome="succeeded"`); n != 3 {
		t.Errorf("provsync_runner_cycles_total of succeeded cycles = %v, want 3", n)
	}
	// /api/log: the approved group's creation, the suspension, and the
	// API calls in order, without the token.
	events := func(query string) []provlog.Event {
		t.Helper()
		body := c.status("GET", "/api/log?"+query, nil, 200)
		if strings.Contains(body, token) {
			t.Fatalf("/api/log?%s shows the token", query)
		}
		var ev []provlog.Event
		if err := json.Unmarshal([]byte(body), &ev); err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if ev := events("action=create-group"); len(ev) != 1 || ev[0].Name != "Engineering" || ev[0].Outcome != sync.StatusApplied {
		t.Errorf("create-group events: %+v", ev)
	}
	if ev := events("object=alan@example.com&action=deactivate-user"); len(ev) != 1 || ev[0].Outcome != sync.StatusApplied {
		t.Errorf("alan's deactivation in the log: %+v", ev)
	}
	var calls []string
	for _, e := range events("kind=api") {
		calls = append(calls, e.API.Call+" "+string(e.Outcome)+" "+e.Name)
	}
	want := []string{"run refused ", "run accepted ", "approve accepted " + ids[0], "run accepted "}
	if strings.Join(calls, "|") != strings.Join(want, "|") {
		t.Errorf("API calls in the log: %q, want %q", calls, want)
	}

	// 4: two users added; SIGTERM while the cycle asked for is applying
	// (the gate holds its first write).
	addUser("ken")
	addUser("dennis")
	g.holdNext()
	c.status("POST", "/api/run", bearer(token), 202)
	<-g.reached
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	g.open()
	text := <-rest
	if err := cmd.Wait(); err != nil {
		t.Fatalf("provsyncd after SIGTERM mid-apply: %v\n%s\nstderr:\n%s", err, text, stderr.String())
	}
	if !strings.HasSuffix(text, "stopped\n") {
		t.Errorf("output after SIGTERM:\n%s", text)
	}

	// The next run converges: whatever the stopped cycle left is applied,
	// and a run after it plans nothing.
	for run := 1; ; run++ {
		cmd, out, stderr = startChild(t, env, "-config", cfgPath, "-once")
		text = readAll(out)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run %d after SIGTERM: %v\n%s\nstderr:\n%s", run, err, text, stderr.String())
		}
		if !strings.Contains(text, "(start): succeeded;") || !strings.Contains(text, " 0 failed") {
			t.Fatalf("run %d after SIGTERM:\n%s", run, text)
		}
		if strings.Contains(text, "planned 0 changes") {
			break
		}
		if run == 2 {
			t.Fatalf("the second -once run still planned changes:\n%s", text)
		}
	}
	if got := target(); len(got) != 6 || !got["ken@example.com"] || !got["dennis@example.com"] || got["alan@example.com"] || !got["linus@example.com"] {
		t.Errorf("target at the end: %v", got)
	}
}

// metricSum adds the values of the samples of metric whose labels
// include label, in Prometheus text exposition; -1 when there are none.
func metricSum(exposition, metric, label string) float64 {
	sum, found := 0.0, false
	sc := bufio.NewScanner(strings.NewReader(exposition))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") || !strings.Contains(line, label) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			return -1
		}
		sum, found = sum+v, true
	}
	if !found {
		return -1
	}
	return sum
}
