package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
)

// TestMain lets the test binary be the server child the benchmark starts,
// as the program itself is.
func TestMain(m *testing.M) {
	if os.Getenv(serverRoleEnv) == "server" {
		if err := serve(os.Args[1:], os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench100k server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestBenchTiny runs the whole benchmark, server child included, on 200
// users and 20 groups with pages of 50, and checks the request counts,
// which do not depend on timing: one create per object at first, one
// write per object changed (a group's member additions and removals go
// in one PATCH), the plan holding exactly the changes the source's batch
// calls for, and the server seeing exactly the requests the client
// counted.
//
// The issue mix (40 renames, 30 suspensions, 15 membership moves) must
// cost one PATCH per user renamed or suspended and one per group a move
// takes a member from or gives one to, whatever the source: at most 100
// writes, no POST, and no read between drift checks.
//
// The GET figures: the first cycle and the drift checks (planned with
// sync.Reapply) list the whole tenant (its users, leavers included as
// deactivated, and its groups); the cycles between plan against the
// state's mirrors and read nothing, so a no-op cycle sends no request and
// a cycle with changes sends its writes alone.
//
// The adopt case's first run meets a tenant holding every user and group
// already (as a hosted connector left them): it lists the tenant, sends
// no POST, and one PATCH per object whose externalId is not the one the
// mapping sets (two thirds of them); the next cycle is a no-op.
//
// The full-read source is read in full on every cycle, each time by a
// selecting read (source.AttributeSelector) of no attribute, the
// default mapping's.
func TestBenchTiny(t *testing.T) {
	benchTiny(t, "default", []string{"full", "incremental", "adopt"})
}

// TestBenchTinyRules is TestBenchTiny with -mapping rules: benchRules'
// attribute mappings, 3-clause scope (which keeps every user) and 5
// group rules, whose 6 groups the initial sync creates too, and which a
// leaver leaves as it leaves its source groups. Every read of the
// full-read source is a selecting read of exactly the attributes the
// rules read (mapping.RuleMapper.SourceAttributes), none other and none
// left out.
func TestBenchTinyRules(t *testing.T) {
	benchTiny(t, "rules", []string{"full", "incremental"})
}

// benchTiny runs the benchmark with mapping (config.mapping) on sources
// and checks its figures as TestBenchTiny says.
func benchTiny(t *testing.T, mappingName string, sources []string) {
	t.Helper()
	const users, groups, page = 200, 20, 50
	const seed = 1
	mapper, err := newMapper(mappingName)
	if err != nil {
		t.Fatal(err)
	}
	// What the initial sync creates: every user (the rules' scope keeps
	// them all), every source group and the rules' groups.
	var wantNames []string
	wantCreates := users + groups
	if mapper != nil {
		wantNames, _ = mapper.(mapping.AttributeReader).SourceAttributes()
		d, err := mapper.Map(context.Background(), synth.Generate(synth.Config{Users: users, Groups: groups, MembershipsPerUser: 3, Seed: seed}))
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Users) != users || len(d.Groups) != groups+6 || len(wantNames) == 0 {
			t.Fatalf("the rules map %d users, %d groups and read %q; want all %d users, %d source groups and 6 of the rules', some attributes",
				len(d.Users), len(d.Groups), wantNames, users, groups)
		}
		wantCreates = len(d.Users) + len(d.Groups)
	}
	slices.Sort(wantNames)
	issue, broad := issueMix(), broadMix()
	pages := func(n int) int64 { return int64((n + page - 1) / page) }
	listing := func(hiresSoFar int) int64 { return pages(users+hiresSoFar) + pages(wantCreates-users) }
	tests := []struct {
		phase string
		get   int64
		mix   changeMix
	}{
		{"initial", 2, changeMix{}}, // the empty tenant: one page of users, one of groups
		{"no-op", 0, changeMix{}},
		{"issue mix", 0, issue},
		{"broad mix", 0, broad},
		{"no-op, drift check", listing(broad.Hires), changeMix{}},
		{"issue mix, drift check", listing(broad.Hires), issue},
		{"broad mix, drift check", listing(broad.Hires), broad},
	}
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs, err := bench(ctx, config{users: users, groups: groups, memberships: 3, seed: seed, concurrency: 16, mapping: mappingName,
		pageSize: page, sources: sources, memoryState: false, issueMix: issue, broadMix: broad}, &out)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	adopt := 0
	if slices.Contains(sources, "adopt") {
		adopt = len(adoptPhases)
	}
	if len(rs) != 2*len(tests)+adopt {
		t.Fatalf("%d results; want %d\n%s", len(rs), 2*len(tests)+adopt, out.String())
	}
	if adopt > 0 {
		checkAdopt(t, rs[2*len(tests):], users, groups, listing(0))
	}
	for i, r := range rs[:2*len(tests)] {
		tt := tests[i%len(tests)]
		name := r.source + "/" + r.phase
		if r.phase != tt.phase || r.mix != tt.mix {
			t.Fatalf("result %d is %s; want phase %q", i, name, tt.phase)
		}
		if r.mapping != mappingName {
			t.Errorf("%s: mapping %q; want %q", name, r.mapping, mappingName)
		}
		if r.source == "full" {
			if r.reads != 0 || len(r.selected) == 0 {
				t.Errorf("%s: %d plain reads and %d selecting reads of the source; want selecting reads only", name, r.reads, len(r.selected))
			}
			for _, got := range r.selected {
				got = slices.Sorted(slices.Values(got))
				if !slices.Equal(got, wantNames) {
					t.Errorf("%s: a selecting read of %q; want exactly the mapping's %q", name, got, wantNames)
				}
			}
		}
		q := r.requests
		writes := q.Post + q.Patch + q.Put + q.Delete
		if q.Get != tt.get {
			t.Errorf("%s: %d GET requests; want %d (the tenant's listing)", name, q.Get, tt.get)
		}
		want := int64(r.planned) // the creates of the initial sync; none for a no-op
		if r.mix != (changeMix{}) {
			want = int64(r.writes)
		}
		if writes != want {
			t.Errorf("%s: %d write requests for %d planned changes; want %d, one per object changed", name, writes, r.planned, want)
		}
		if q.Requests != q.Get+writes || q.Retries != 0 || q.RateLimited != 0 {
			t.Errorf("%s: requests %+v; want GETs and writes only, no retry", name, q)
		}
		if int64(r.served) != q.Requests {
			t.Errorf("%s: the server saw %d requests, the client sent %d", name, r.served, q.Requests)
		}
		switch {
		case r.phase == "initial":
			if q.Post != int64(wantCreates) || r.planned != wantCreates {
				t.Errorf("%s: %d POSTs, %d changes; want %d of each", name, q.Post, r.planned, wantCreates)
			}
		case strings.HasPrefix(r.phase, "no-op"):
			if r.planned != 0 || writes != 0 {
				t.Errorf("%s: %d changes, %d writes; want none", name, r.planned, writes)
			}
		default:
			if r.changed == 0 || r.planned != r.expected {
				t.Errorf("%s: %d changes planned for %d objects changed at the source; want %d", name, r.planned, r.changed, r.expected)
			}
			if q.Post != int64(tt.mix.Hires) {
				t.Errorf("%s: %d POSTs; want one per hire, %d", name, q.Post, tt.mix.Hires)
			}
		}
		if tt.mix == issue {
			// One PATCH per user and per group changed: the users' 70,
			// and the groups the 15 moves take from and give to, 30 at
			// most.
			users := int64(issue.Renames + issue.Suspensions)
			if q.Patch != writes || q.Patch < users+1 || q.Patch > users+2*int64(issue.Moves) {
				t.Errorf("%s: %d PATCHes of %d writes; want only PATCHes, %d for the users and 1 to %d for the groups",
					name, q.Patch, writes, users, 2*issue.Moves)
			}
		}
		if want := float64(q.Requests) / float64(r.objects); r.perObject() != want {
			t.Errorf("%s: %v requests per object; want %v", name, r.perObject(), want)
		}
	}
	t.Log(out.String())
	if !strings.Contains(out.String(), "req/object") {
		t.Errorf("no table printed:\n%s", out.String())
	}
}

// checkAdopt checks the adopt case's cycles, rs, on users and groups
// with a listing of the tenant of listing pages.
func checkAdopt(t *testing.T, rs []result, users, groups int, listing int64) {
	t.Helper()
	wantPatch := int64(rewritten(users) + rewritten(groups))
	if wantPatch == 0 || wantPatch == int64(users+groups) {
		t.Fatalf("%d of %d objects to PATCH: the case tests neither the writes nor their absence", wantPatch, users+groups)
	}
	tests := []struct {
		phase        string
		planned      int
		get, patches int64
	}{
		// Every object is adopted (a change each); the listing is the
		// only read, and the objects the mapping would store otherwise
		// take one PATCH each.
		{"adopt", users + groups, listing, wantPatch},
		{"no-op", 0, 0, 0},
	}
	for i, tt := range tests {
		r := rs[i]
		name := r.source + "/" + r.phase
		if r.source != "adopt" || r.phase != tt.phase {
			t.Fatalf("adopt result %d is %s; want adopt/%s", i, name, tt.phase)
		}
		q := r.requests
		if r.planned != tt.planned || q.Get != tt.get || q.Patch != tt.patches || q.Post+q.Put+q.Delete != 0 ||
			q.Requests != q.Get+q.Patch || q.Retries != 0 || q.RateLimited != 0 {
			t.Errorf("%s: %d changes, requests %+v; want %d changes, %d GET, %d PATCH and nothing else",
				name, r.planned, q, tt.planned, tt.get, tt.patches)
		}
		if int64(r.served) != q.Requests {
			t.Errorf("%s: the server saw %d requests, the client sent %d", name, r.served, q.Requests)
		}
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-sources", "full,delta"}, `"delta" is not full, incremental, adopt or floor`},
		{[]string{"-state", "disk"}, "-state must be file or memory"},
		{[]string{"-users", "100"}, "too few"},
		{[]string{"-groups", "10"}, "too few"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-server-gogc", "0"}, "-server-gogc must be at least 1"},
		{[]string{"-mapping", "custom"}, "-mapping must be default or rules"},
		{[]string{"-mapping", "rules"}, "leave adopt out of -sources"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), tt.args, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%q) = %v; want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestServerChildGOGC: the server child runs with the GOGC it is given,
// whatever this process's.
func TestServerChildGOGC(t *testing.T) {
	t.Setenv("GOGC", "100")
	ctx := context.Background()
	c, err := startServer(ctx, 0, 100, 123, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.stop() }()
	st, err := c.stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.GOGC != "123" {
		t.Errorf("the server child's GOGC is %q, want 123", st.GOGC)
	}
}

// TestDirSourceKeepsItsDirectoryInAFile: the benchmark's source keeps its
// directory in a file, not in the engine's process, reads it back whole
// after each batch of changes, and removes the file when closed.
func TestDirSourceKeepsItsDirectoryInAFile(t *testing.T) {
	ctx := context.Background()
	dir := synth.Generate(synth.Config{Users: 300, Groups: 20, MembershipsPerUser: 3, Seed: 2})
	want := dir.Clone()
	ds, err := newDirSource(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(ds.path); err != nil || fi.Size() != ds.size || ds.size == 0 {
		t.Fatalf("the directory's file: %v, %d bytes; want %d", err, fi.Size(), ds.size)
	}
	got, err := fullSource{ds}.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("the directory read back from its file differs from the one stored")
	}
	if err := ds.change(ctx, rand.New(rand.NewPCG(1, 2)), 1, broadMix()); err != nil {
		t.Fatal(err)
	}
	again, err := fullSource{ds}.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	renamed := 0
	for i := range again.Users {
		if strings.HasSuffix(again.Users[i].FamilyName, " r1") {
			renamed++
		}
	}
	if renamed != broadMix().Renames || len(again.Users) != len(want.Users)+broadMix().Hires-broadMix().Leavers {
		t.Errorf("after a batch the file holds %d users, %d renamed; want %d, %d renamed",
			len(again.Users), renamed, len(want.Users)+broadMix().Hires-broadMix().Leavers, broadMix().Renames)
	}
	if err := ds.close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ds.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after close, the directory's file: %v; want it gone", err)
	}
}

// TestBenchFloor: the floor case sends one create per user and group,
// every one of which the server answers, and no other request.
func TestBenchFloor(t *testing.T) {
	const users, groups = 120, 12
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs, err := bench(ctx, config{users: users, groups: groups, memberships: 3, seed: 1, concurrency: 4,
		pageSize: 50, sources: []string{"floor"}, issueMix: changeMix{}, broadMix: changeMix{}}, &out)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	if len(rs) != 1 {
		t.Fatalf("%d results; want 1\n%s", len(rs), out.String())
	}
	r := rs[0]
	if r.requests.Requests != users+groups || r.requests.Post != users+groups || r.served != users+groups {
		t.Fatalf("floor: %d requests sent (%d POST), %d served; want %d each\n%s", r.requests.Requests, r.requests.Post, r.served, users+groups, out.String())
	}
}

// TestDirSourceKeepsOnlyTheLastBatch: the benchmark's process is the
// engine's, so its source holds no batch of changes that no read can ask
// for again (a cursor older than the last batch is expired), and the
// last batch is still served.
func TestDirSourceKeepsOnlyTheLastBatch(t *testing.T) {
	ctx := context.Background()
	ds, err := newDirSource(synth.Generate(synth.Config{Users: 300, Groups: 20, MembershipsPerUser: 3, Seed: 2}), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.close()
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 1; round <= 3; round++ {
		if err := ds.change(ctx, rng, round, broadMix()); err != nil {
			t.Fatal(err)
		}
	}
	held := 0
	for _, b := range ds.batches {
		if b != nil {
			held++
		}
	}
	if len(ds.batches) != 3 || held != 1 || ds.batches[2] == nil {
		t.Fatalf("after 3 batches the source holds %d of %d, the last: %v; want only the last", held, len(ds.batches), ds.batches[len(ds.batches)-1] != nil)
	}
	ch, err := incSource{ds}.ReadChanges(ctx, "2")
	if err != nil || len(ch.Users) == 0 || ch.Cursor != "3" {
		t.Fatalf("reading the last batch: %v; want its changes and cursor 3", err)
	}
	if _, err := (incSource{ds}).ReadChanges(ctx, "1"); !errors.Is(err, source.ErrCursorExpired) {
		t.Fatalf("reading from an older cursor: %v; want ErrCursorExpired", err)
	}
}
