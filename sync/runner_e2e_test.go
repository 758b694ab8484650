package sync_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/sync/provlog"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// TestRunnerTwentyCycles runs a Runner for 20 cycles against the
// embedded server while the source changes every cycle and the server
// answers every request with 500 for a stretch of four cycles: those
// fail into quarantine, the next one recovers, and at the end the target
// holds exactly the source, the change events add up to the cycles'
// counts, the provisioning log and the metrics agree with them, and one
// quarantine and one recovery were notified.
func TestRunnerTwentyCycles(t *testing.T) {
	srv := netskopetest.New(t)
	client, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0), netskope.WithMaxRetries(-1))
	if err != nil {
		t.Fatal(err)
	}
	dir := synth.Generate(synth.Config{Users: 40, Groups: 4, MembershipsPerUser: 2, Seed: 5})
	f := &feed{}
	f.set(dir)
	state := sync.NewMemoryState()
	// Every cycle reads the whole target (a drift check), so that the
	// failing stretch fails at its first request, the listing.
	eng, err := sync.New(f, client, sync.WithState(state), sync.WithDriftCheck(0))
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "prov.jsonl")
	plog, err := provlog.Open(logPath, provlog.WithRotation(16<<10, 100))
	if err != nil {
		t.Fatal(err)
	}
	defer plog.Close()
	reader := sdkmetric.NewManualReader()
	h := startRunner(t, clocktest.New(runnerEpoch), eng, sync.WithObserver(plog),
		sync.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
	var removed []string // userNames that left scope
	var reports []sync.CycleReport
	const faultFrom, faultTo = 8, 11 // cycles answered 500
	for k := 1; k <= 20; k++ {
		// The source changes before every cycle but the first.
		if k > 1 {
			if k%3 == 0 {
				name := fmt.Sprintf("hire%d@example.com", k)
				dir.Users = append(dir.Users, source.User{ID: fmt.Sprintf("hire-%d", k), UserName: name, GivenName: "Hire",
					FamilyName: fmt.Sprint(k), State: source.StateActive, Emails: []source.Email{{Value: name, Primary: true}}})
				dir.Groups[k%len(dir.Groups)].Members = append(dir.Groups[k%len(dir.Groups)].Members, fmt.Sprintf("hire-%d", k))
			}
			if k%4 == 0 {
				i := firstActive(dir)
				removed = append(removed, dir.Users[i].UserName)
				removeUser(dir, dir.Users[i].ID)
			}
			if k%2 == 0 {
				i := firstActive(dir)
				dir.Users[i].GivenName = fmt.Sprintf("Renamed%d", k)
			}
			f.set(dir)
		}
		switch k {
		case faultFrom:
			srv.SetFaults(netskopetest.Faults{Rate500: 1, Seed: 1})
		case faultTo + 1:
			srv.SetFaults(netskopetest.Faults{})
		}
		var c sync.CycleReport
		if k == 1 {
			c = h.cycle()
		} else {
			c = h.tick()
		}
		reports = append(reports, c)
		want := sync.CycleSucceeded
		if k >= faultFrom && k <= faultTo {
			want = sync.CycleFailed
		}
		if c.Outcome != want || c.Failed != 0 {
			t.Fatalf("cycle %d: %s (%s), %d changes failed; want %s", k, c.Outcome, c.Error, c.Failed, want)
		}
	}
	// Backoff: 80, 160 and 320 minutes after the failed cycles 8 to 10,
	// so the clock passed a day and a full read came round again.
	if last := reports[len(reports)-1]; last.Started.Sub(runnerEpoch) < 24*time.Hour {
		t.Fatalf("20 cycles took %s of clock, want more than a day", last.Started.Sub(runnerEpoch))
	}
	if !reports[0].FullRead || !slices.ContainsFunc(reports[1:], func(c sync.CycleReport) bool { return c.FullRead }) {
		t.Error("no full read after the first, though more than a day passed")
	}
	if got := kinds(h.rec.notifications()); !slices.Equal(got, []sync.NotificationKind{sync.NotifyQuarantined, sync.NotifyRecovered}) {
		t.Errorf("notifications %v, want one quarantine and one recovery", got)
	}

	// The target holds exactly the source.
	if len(removed) != 5 {
		t.Fatalf("%d users left scope, want 5", len(removed))
	}
	snap, err := state.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]bool{} // userName → active, in the target
	given := map[string]string{}
	for _, u := range srv.Users() {
		byName[u.UserName] = u.IsActive()
		given[u.UserName] = u.Name.GivenName
	}
	for _, u := range dir.Users {
		if u.State != source.StateActive {
			continue
		}
		if active, ok := byName[u.UserName]; !ok || !active || given[u.UserName] != u.GivenName {
			t.Errorf("user %s: in target %v, active %v, givenName %q; want active with %q", u.UserName, ok, active, given[u.UserName], u.GivenName)
		}
	}
	for _, name := range removed {
		if active, ok := byName[name]; !ok || active {
			t.Errorf("user %s left scope: in target %v, active %v; want deactivated", name, ok, active)
		}
	}
	members := map[string][]string{} // displayName → member target ids
	for _, g := range srv.Groups() {
		for _, m := range g.Members {
			members[g.DisplayName] = append(members[g.DisplayName], m.Value)
		}
		slices.Sort(members[g.DisplayName])
	}
	for _, g := range dir.Groups {
		var want []string
		for _, id := range g.Members {
			if i := indexOf(dir, id); i >= 0 && dir.Users[i].State == source.StateActive {
				want = append(want, snap.Users[id].TargetID)
			}
		}
		slices.Sort(want)
		if len(want) == 0 {
			t.Errorf("group %s has no active members to check", g.DisplayName)
		}
		if !slices.Equal(members[g.DisplayName], want) {
			t.Errorf("group %s: members %v, want %v", g.DisplayName, members[g.DisplayName], want)
		}
	}

	// The change events add up to the cycles' counts.
	applied := map[string]int{}
	for _, ev := range h.rec.events() {
		if ev.Outcome == sync.StatusApplied {
			applied[ev.Cycle]++
		}
	}
	total := 0
	for _, c := range reports {
		if applied[c.ID] != c.Applied {
			t.Errorf("cycle %s: %d events applied, the report says %d", c.ID, applied[c.ID], c.Applied)
		}
		total += c.Applied
	}
	if len(h.rec.events()) != total || total == 0 {
		t.Errorf("%d events, %d changes applied", len(h.rec.events()), total)
	}
	h.clk.BlockUntil(1)
	if p, err := eng.Plan(ctx(t)); err != nil || !p.Empty() {
		t.Errorf("a plan after 20 cycles: %v, %v", err, p.SummaryLine())
	}

	// The provisioning log holds the same events, across its rotations.
	logged, err := plog.Query(provlog.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if files, _ := provlog.Files(logPath); len(files) < 2 {
		t.Errorf("the log was not rotated: %q", files)
	}
	if len(logged) != len(h.rec.events()) {
		t.Fatalf("the log holds %d events, the observer heard %d", len(logged), len(h.rec.events()))
	}
	for i, ev := range h.rec.events() {
		if l := logged[i]; l.Cycle != ev.Cycle || l.Action != ev.Action || l.Name != ev.Name || l.Outcome != ev.Outcome || !l.Time.Equal(ev.Time) {
			t.Fatalf("logged event %d: %+v, heard %+v", i, l.ChangeEvent, ev)
		}
	}
	for _, name := range removed {
		evs, err := plog.Query(provlog.Filter{Object: name, Action: sync.ActionDeactivateUser})
		if err != nil || len(evs) != 1 || evs[0].Outcome != sync.StatusApplied {
			t.Errorf("the log's deactivation of %s: %+v %v, want one, applied", name, evs, err)
		}
	}

	// The metrics count the same.
	pts := collect(t, reader)
	var cycles, failedCycles, appliedChanges float64
	for _, p := range pts[sync.MetricCycles] {
		cycles += p.value
		if p.attributes["outcome"] == string(sync.CycleFailed) {
			failedCycles += p.value
		}
	}
	for _, p := range pts[sync.MetricChanges] {
		if p.attributes["outcome"] == string(sync.StatusApplied) {
			appliedChanges += p.value
		}
	}
	if cycles != 20 || failedCycles != 4 || appliedChanges != float64(total) {
		t.Errorf("metrics: %v cycles, %v failed, %v changes applied; want 20, 4, %d", cycles, failedCycles, appliedChanges, total)
	}
	if p := find(t, pts, sync.MetricObjectsOwned, "kind", "user"); p.value != float64(len(snap.Users)) {
		t.Errorf("owned users %v, the state links %d", p.value, len(snap.Users))
	}
	if p := find(t, pts, sync.MetricQuarantined); p.value != 0 {
		t.Errorf("quarantined %v after recovering", p.value)
	}
	var requests, errors500 float64
	for _, p := range pts[sync.MetricTargetRequests] {
		requests += p.value
		if p.attributes["status"] == "500" {
			errors500 += p.value
		}
	}
	if st := client.Stats(); requests != float64(st.Requests) || errors500 == 0 {
		t.Errorf("target requests %v (%v answered 500), the client sent %d; want them all, 500s among them", requests, errors500, st.Requests)
	}
}
