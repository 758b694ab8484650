package sync_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	gosync "sync"
	"testing"
	"weak"

	"github.com/provsync/provsync/scim"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/clocktest"
	"github.com/provsync/provsync/target"
)

// payloadTarget keeps a weak pointer to each user it is asked to create
// and, at the first group create (the apply's group phase, after every
// user create), counts those a collection leaves reachable. It refuses
// to create the user named fail.
type payloadTarget struct {
	target.Target
	fail string

	mu      gosync.Mutex
	users   []weak.Pointer[scim.User]
	live    int // users reachable at the first group create, -1 before it
	members map[string][]string
}

func (t *payloadTarget) CreateUser(ctx context.Context, u *scim.User) (*scim.User, error) {
	t.mu.Lock()
	t.users = append(t.users, weak.Make(u))
	t.mu.Unlock()
	if u.UserName == t.fail {
		return nil, errors.New("refused by the test")
	}
	return t.Target.CreateUser(ctx, u)
}

func (t *payloadTarget) CreateGroup(ctx context.Context, g *scim.Group) (*scim.Group, error) {
	t.mu.Lock()
	if t.live < 0 {
		runtime.GC()
		t.live = 0
		for _, w := range t.users {
			if w.Value() != nil {
				t.live++
			}
		}
	}
	t.mu.Unlock()
	return t.Target.CreateGroup(ctx, g)
}

// payloadDirectory has 30 users and 3 groups, group k holding the users
// whose number is k modulo 3, and a fourth group holding them all.
func payloadDirectory() *source.Directory {
	d := &source.Directory{}
	for k := range 4 {
		d.Groups = append(d.Groups, source.Group{ID: fmt.Sprintf("g-%d", k), DisplayName: fmt.Sprintf("Group %d", k)})
	}
	for i := range 30 {
		id := fmt.Sprintf("u-%02d", i)
		d.Users = append(d.Users, source.User{ID: id, UserName: id + "@example.com", GivenName: "Given", FamilyName: id})
		d.Groups[i%3].Members = append(d.Groups[i%3].Members, id)
		d.Groups[3].Members = append(d.Groups[3].Members, id)
	}
	return d
}

// TestSyncReleasesAppliedCreates: Sync and a Runner's cycle, which alone
// hold their plan while they apply it, drop each applied create's payload
// once it is recorded:
// no user it sent is reachable by the time it creates the groups, and the
// plan it returns has no payload for the applied creates, while the one
// it failed keeps its own (TestSyncPlanReleasesPackedUsers checks the
// packed form Sync's plan holds its users in). A plan a caller holds (Plan, then Apply)
// is never changed by its apply. Either way the target ends with the
// same users and groups, members included, and a second plan is empty.
func TestSyncReleasesAppliedCreates(t *testing.T) {
	const fail = "u-07@example.com"
	for _, mode := range []string{"Sync", "Plan then Apply", "Runner"} {
		t.Run(mode, func(t *testing.T) {
			sync2 := mode != "Plan then Apply" // the engine alone holds the plan it applies
			srv, c := newTarget(t)
			tgt := &payloadTarget{Target: c, fail: fail, live: -1}
			eng, err := sync.New(rawSource{payloadDirectory()}, tgt, sync.WithState(sync.NewMemoryState()))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var p *sync.Plan
			var before []byte
			switch mode {
			case "Sync":
				p, _, err = eng.Sync(ctx)
			case "Runner":
				h := startRunner(t, clocktest.New(runnerEpoch), eng)
				h.cycle()
				p = h.run.LastPlan()
			default:
				if p, err = eng.Plan(ctx); err != nil {
					t.Fatal(err)
				}
				if before, err = p.MarshalIndentJSON(); err != nil {
					t.Fatal(err)
				}
				_, err = eng.Apply(ctx, p)
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := p.Summary; s.CreateUsers != 30 || s.CreateGroups != 4 || s.AddMembers != 60 {
				t.Fatalf("summary: %s", p.SummaryLine())
			}
			// Sync's plan holds its users packed, and sends each decoded
			// afresh: not one of them is kept once sent. The caller's plan
			// holds the very users sent.
			wantLive := 0
			if !sync2 {
				wantLive = 30
				after, err := p.MarshalIndentJSON()
				if err != nil {
					t.Fatal(err)
				}
				if string(after) != string(before) {
					t.Fatalf("the apply changed the caller's plan:\nbefore %s\nafter %s", before, after)
				}
			}
			if tgt.live != wantLive {
				t.Errorf("%d of the 30 users sent to be created were reachable when the groups were created, want %d", tgt.live, wantLive)
			}
			for _, ch := range p.Changes {
				failed := ch.Object.Key == fail
				switch ch.Action {
				case sync.ActionCreateUser:
					if kept := ch.User != nil; kept != (failed || !sync2) {
						t.Errorf("%s: payload kept %v", ch.Object, kept)
					}
				case sync.ActionCreateGroup:
					// u-07, whose create fails, is a member of groups 1
					// and 3: their creates report it missing, and fail.
					members := map[string]int{"Group 3": 30}[ch.Object.Key]
					if members == 0 {
						members = 10
					}
					failed = ch.Object.Key == "Group 1" || ch.Object.Key == "Group 3"
					if failed || !sync2 {
						if ch.Group == nil || len(ch.Members) != members {
							t.Errorf("%s: payload %v with %d members, want the group and %d", ch.Object, ch.Group, len(ch.Members), members)
						}
					} else if ch.Group != nil || ch.Members != nil {
						t.Errorf("%s: applied, payload %v with %d members kept", ch.Object, ch.Group, len(ch.Members))
					}
				}
			}
			// The target holds what the plan said, whichever apply ran.
			byID := map[string]string{}
			for _, u := range srv.Users() {
				byID[u.ID] = u.UserName
			}
			if len(byID) != 29 {
				t.Fatalf("target has %d users, want 29", len(byID))
			}
			for _, g := range srv.Groups() {
				var got []string
				for _, m := range g.Members {
					got = append(got, byID[m.Value])
				}
				slices.Sort(got)
				var want []string
				for i := range 30 {
					name := fmt.Sprintf("u-%02d@example.com", i)
					if name != fail && (g.DisplayName == "Group 3" || g.DisplayName == fmt.Sprintf("Group %d", i%3)) {
						want = append(want, name)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("%s has members %v, want %v", g.DisplayName, got, want)
				}
			}
		})
	}
}

// weakState records into a MemoryState and keeps a weak pointer to the
// intent of each intent record and the link of each link record of a
// user it is given: what the engine may still hold of them once stored.
type weakState struct {
	*sync.MemoryState
	mu              gosync.Mutex
	intentP, linksP []func() bool // each reports whether its pointer is still reachable
}

func (s *weakState) Record(ctx context.Context, recs ...sync.Record) error {
	s.mu.Lock()
	for _, r := range recs {
		switch {
		case r.Op == sync.OpIntent && r.Kind == sync.KindUser:
			w := weak.Make(r.Intent)
			s.intentP = append(s.intentP, func() bool { return w.Value() != nil })
		case r.Op == sync.OpLink && r.Kind == sync.KindUser:
			w := weak.Make(r.Link)
			s.linksP = append(s.linksP, func() bool { return w.Value() != nil })
		}
	}
	s.mu.Unlock()
	return s.MemoryState.Record(ctx, recs...)
}

// reachable counts the intents and links still reachable after a
// collection.
func (s *weakState) reachable() (intents, links int) {
	runtime.GC()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.intentP {
		if f() {
			intents++
		}
	}
	for _, f := range s.linksP {
		if f() {
			links++
		}
	}
	return intents, links
}

// groupHook runs fn before the first group create.
type groupHook struct {
	target.Target
	once gosync.Once
	fn   func()
}

func (t *groupHook) CreateGroup(ctx context.Context, g *scim.Group) (*scim.Group, error) {
	t.once.Do(t.fn)
	return t.Target.CreateGroup(ctx, g)
}

// TestApplyLetsGoOfLandedRecords: an apply keeps its records for a
// replay onto a state saved meanwhile, but not the intent of each create
// that landed, nor the link of each object it created (a replay takes
// it from the apply's snapshot): by the time it creates the groups, none
// of the users' intents and links is reachable. Creates in windows of 8,
// so that the records are compacted several times in the user phase.
func TestApplyLetsGoOfLandedRecords(t *testing.T) {
	_, c := newTarget(t)
	st := &weakState{MemoryState: sync.NewMemoryState()}
	intents, links := -1, -1
	tgt := &groupHook{Target: c}
	tgt.fn = func() { intents, links = st.reachable() }
	eng, err := sync.New(rawSource{payloadDirectory()}, tgt, sync.WithState(st))
	if err != nil {
		t.Fatal(err)
	}
	sync.SetIntentWindow(eng, 8)
	ctx := context.Background()
	p, err := eng.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Apply(ctx, p); err != nil {
		t.Fatal(err)
	}
	if len(st.intentP) != 30 || len(st.linksP) != 30 {
		t.Fatalf("%d intents and %d links of users recorded, want 30 of each", len(st.intentP), len(st.linksP))
	}
	if intents != 0 || links != 0 {
		t.Errorf("%d intents and %d links of the 30 users created were reachable when the groups were created, want none", intents, links)
	}
}

// staleState is a MemoryState that someone else saves to just before
// the first save it is asked for, which then fails as stale: they save
// the state as it was before the first record, with a link of their own.
// It keeps a copy of the snapshot that first save would have stored.
type staleState struct {
	*sync.MemoryState
	before, wanted *sync.Snapshot
}

func (s *staleState) Record(ctx context.Context, recs ...sync.Record) error {
	if s.before == nil {
		var err error
		if s.before, err = s.Load(ctx); err != nil {
			return err
		}
	}
	return s.MemoryState.Record(ctx, recs...)
}

func (s *staleState) Save(ctx context.Context, snap *sync.Snapshot) error {
	if s.wanted == nil && s.before != nil {
		s.wanted = snap.Clone()
		other := s.before
		other.Users["x-other"] = sync.Link{TargetID: "t-other", Origin: sync.OriginAdopted}
		other.Serial++
		if err := s.MemoryState.Save(ctx, other); err != nil {
			return err
		}
	}
	return s.MemoryState.Save(ctx, snap)
}

// TestStaleSaveReplaysCompactedRecords: when the state was saved by
// someone else during an apply, the apply's records, compacted as its
// creates landed, are replayed onto the newer state: it ends with the
// links, mirrors and intents the apply's own save would have stored, and
// the other save's link.
func TestStaleSaveReplaysCompactedRecords(t *testing.T) {
	_, c := newTarget(t)
	st := &staleState{MemoryState: sync.NewMemoryState()}
	eng, err := sync.New(rawSource{payloadDirectory()}, c, sync.WithState(st))
	if err != nil {
		t.Fatal(err)
	}
	sync.SetIntentWindow(eng, 4)
	ctx := context.Background()
	if _, res, err := eng.Sync(ctx); err != nil {
		t.Fatal(err)
	} else if res.Applied != 34 {
		t.Fatalf("%d changes applied, want 34", res.Applied)
	}
	got, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := st.wanted
	if want == nil || len(want.Users) != 30 || len(want.Groups) != 4 {
		t.Fatalf("the apply's own save would have stored %+v", want)
	}
	want.Users["x-other"] = sync.Link{TargetID: "t-other", Origin: sync.OriginAdopted}
	for _, k := range []struct {
		name      string
		got, want map[string]sync.Link
	}{{"users", got.Users, want.Users}, {"groups", got.Groups, want.Groups}} {
		if len(k.got) != len(k.want) {
			t.Errorf("%s: %d links stored, want %d", k.name, len(k.got), len(k.want))
		}
		for id, w := range k.want {
			g, ok := k.got[id]
			if !ok || g.TargetID != w.TargetID || g.Origin != w.Origin || !g.Since.Equal(w.Since) || !reflect.DeepEqual(g.Mirror, w.Mirror) {
				t.Errorf("%s %s: stored %+v, want %+v", k.name, id, g, w)
			}
			if w.Mirror == nil && id != "x-other" {
				t.Errorf("%s %s: no mirror", k.name, id)
			}
		}
	}
	if len(got.Intents) != 0 {
		t.Errorf("intents left: %v", got.Intents)
	}
}
