package sync_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
)

// streamCounter is the default mapping, counting what its streaming
// mapping hands over: the users the engine takes, and those it leaves
// in Desired.Users.
type streamCounter struct {
	mapping.DefaultMapper
	taken, kept int
}

func (m *streamCounter) MapStreaming(ctx context.Context, dir *source.Directory, ent mapping.Entitlements, s mapping.Stream) (*mapping.Desired, error) {
	take := s.Take
	m.taken, m.kept = 0, 0
	s.Take = func(u *mapping.DesiredUser) bool {
		if take(u) {
			m.taken++
			return true
		}
		return false
	}
	d, err := m.DefaultMapper.MapStreaming(ctx, dir, ent, s)
	if d != nil {
		m.kept = len(d.Users)
	}
	return d, err
}

// wholeMapper is the default mapping without streaming: every mapped
// user reaches the engine in Desired.Users.
type wholeMapper struct{ m mapping.DefaultMapper }

func (w wholeMapper) Map(ctx context.Context, dir *source.Directory) (*mapping.Desired, error) {
	return w.m.Map(ctx, dir)
}

func (w wholeMapper) MapReleasing(ctx context.Context, dir *source.Directory, ent mapping.Entitlements) (*mapping.Desired, error) {
	return w.m.MapReleasing(ctx, dir, ent)
}

// TestUnchangedUsersAreHeldThin: with a streaming mapper, a plan takes
// each mapped user the same as its mirror as it is mapped, so the mapping
// returns only the users that changed (or that no mirror stands for, or
// that policy acts on), not the whole directory; and every plan, with
// changes, clashing names, an owner marker or at a drift check, is the
// one the engine makes from the whole mapping.
func TestUnchangedUsersAreHeldThin(t *testing.T) {
	for _, tc := range []struct {
		name   string
		marked bool
		opts   []sync.Option
	}{
		{"default", false, nil},
		{"owner marker", true, []sync.Option{sync.WithOwner("hr")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			counter := &streamCounter{}
			e, eng, clk := mirrored(t, 40, 4, append([]sync.Option{sync.WithMapper(counter)}, tc.opts...)...)
			whole := e.engine(append([]sync.Option{sync.WithMapper(wholeMapper{}), sync.WithClock(clk.Now)}, tc.opts...)...)
			// same plans both engines and checks that their plans are
			// one, and that the streaming mapping kept kept users.
			same := func(step string, kept int, opts ...sync.PlanOption) *sync.Plan {
				t.Helper()
				p, err := eng.Plan(ctx(t), opts...)
				if err != nil {
					t.Fatal(err)
				}
				taken, got := counter.taken, counter.kept
				want, err := whole.Plan(ctx(t), opts...)
				if err != nil {
					t.Fatal(err)
				}
				if a, b := mustMarshal(t, p), mustMarshal(t, want); a != b {
					t.Errorf("%s: the plans differ:\nstreaming %s\nwhole     %s", step, a, b)
				}
				if got != kept || taken+got != len(e.dir.Users)-countState(e.dir, source.StateDeleted) {
					t.Errorf("%s: the mapping kept %d users and the plan took %d; want %d kept, of %d",
						step, got, taken, kept, len(e.dir.Users))
				}
				return p
			}
			suspended := countState(e.dir, source.StateSuspended)
			if p := same("no-op", suspended); !p.Empty() {
				t.Fatalf("no-op plan: %s", p.SummaryLine())
			}
			idx := activeUsers(t, e.dir, 4)
			e.edit(func(d *source.Directory) {
				d.Users[idx[0]].FamilyName += "-renamed"
				d.Users[idx[1]].State = source.StateSuspended
				// A new user takes the name of a linked one: both are
				// left alone, in the mapping's order.
				// (The source has it as an email: its userName is empty.)
				d.Users = append(d.Users, source.User{ID: "new-1", State: source.StateActive,
					Emails: []source.Email{{Value: d.Users[idx[2]].UserName, Primary: true}}})
			})
			if p := same("changes", suspended+3); len(p.Problems) != 2 || p.Summary.UpdateUsers != 1 || p.Summary.DeactivateUsers != 1 {
				t.Fatalf("plan with changes: %s, %d problems", p.SummaryLine(), len(p.Problems))
			}
			e.edit(func(d *source.Directory) { d.Users = d.Users[:len(d.Users)-1] })
			e.apply(eng)
			kept, updates := suspended+1, 0
			if !tc.marked { // (handChanges finds the links under the engine's own keys)
				handChanges(t, e)
				kept, updates = kept+1, 1
			}
			if p := same("drift check", kept, sync.DriftCheck()); !p.DriftCheck || p.Summary.UpdateUsers != updates {
				t.Fatalf("drift check: %s", p.SummaryLine())
			}
		})
	}
}

// selectingSource is a file source that can leave attributes out of a
// read (keeping those named, ignoring case), counting its reads of each
// kind.
type selectingSource struct {
	*file.Source
	reads, selected int
	names           []string
}

func (s *selectingSource) Read(ctx context.Context) (*source.Directory, error) {
	s.reads++
	return s.Source.Read(ctx)
}

func (s *selectingSource) ReadAttributes(ctx context.Context, names []string) (*source.Directory, error) {
	s.selected++
	s.names = names
	d, err := s.Source.Read(ctx)
	if err != nil {
		return nil, err
	}
	only := func(a source.Attrs) source.Attrs {
		var kept source.Attrs
		for k, v := range a.All() {
			if slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, k) }) {
				kept = kept.With(k, v)
			}
		}
		return kept
	}
	for i := range d.Users {
		d.Users[i].Attributes = only(d.Users[i].Attributes)
	}
	for i := range d.Groups {
		d.Groups[i].Attributes = only(d.Groups[i].Attributes)
	}
	return d, nil
}

// wholeSource is a source that reads every attribute: it hides any
// capability of the source it wraps.
type wholeSource struct{ source.Source }

// TestEngineReadsOnlyTheAttributesMapped: the engine asks a source that
// can leave attributes out (source.AttributeSelector) for those its
// mapping reads (mapping.AttributeReader): none for the default mapping,
// those the rules name for a RuleMapper, each plan the one made from the
// whole directory; a mapping that cannot tell gets the whole directory.
func TestEngineReadsOnlyTheAttributesMapped(t *testing.T) {
	e := newEnv(t, 30, 3)
	src := &selectingSource{Source: e.src}
	eng, err := sync.New(src, e.client, sync.WithState(e.state))
	if err != nil {
		t.Fatal(err)
	}
	p, err := eng.Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if src.selected != 1 || src.reads != 0 || len(src.names) != 0 {
		t.Fatalf("default mapping: %d reads, %d selecting %q; want one selecting none", src.reads, src.selected, src.names)
	}
	want, err := e.engine().Plan(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	p.CreatedAt = want.CreatedAt
	if a, b := mustMarshal(t, p), mustMarshal(t, want); a != b || p.Summary.CreateUsers == 0 {
		t.Errorf("the plan from the selected attributes differs:\n%s\n%s", a, b)
	}
	// Rules name the attributes they read, and the plan is the one made
	// from a whole read.
	rules, err := mapping.Rules{
		Users: append(mapping.DefaultUserMappings(), mapping.AttributeMapping{Target: "department", Type: mapping.Direct, Source: "Department"}),
		GroupRules: mapping.GroupRules{{Name: "contractors",
			Conditions: []mapping.Condition{{Attribute: "EMPLOYEETYPE", Operator: mapping.CondEquals, Value: "contractor"}},
			Actions:    []mapping.GroupAction{{SetGroup: "Contractors"}}}},
	}.Compile()
	if err != nil {
		t.Fatal(err)
	}
	src.reads, src.selected = 0, 0
	eng, err = sync.New(src, e.client, sync.WithState(e.state), sync.WithMapper(rules))
	if err != nil {
		t.Fatal(err)
	}
	if p, err = eng.Plan(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if want := []string{"Department", "EMPLOYEETYPE"}; src.selected != 1 || src.reads != 0 || !slices.Equal(src.names, want) {
		t.Errorf("rules: %d reads, %d selecting %q; want one selecting %q", src.reads, src.selected, src.names, want)
	}
	whole, err := sync.New(wholeSource{e.src}, e.client, sync.WithState(e.state), sync.WithMapper(rules))
	if err != nil {
		t.Fatal(err)
	}
	if want, err = whole.Plan(ctx(t)); err != nil {
		t.Fatal(err)
	}
	p.CreatedAt = want.CreatedAt
	if a, b := mustMarshal(t, p), mustMarshal(t, want); a != b || !strings.Contains(a, `"department"`) || !strings.Contains(a, `"Contractors"`) {
		t.Errorf("rules: the plan from the selected attributes differs, or maps no department or rule group:\n%s\n%s", a, b)
	}
	// A rule's preview reads as a plan does, and finds the same users.
	src.reads, src.selected = 0, 0
	got, err := eng.AffectedUsers(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	wantAffected, err := whole.AffectedUsers(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	if src.selected != 1 || src.reads != 0 || len(wantAffected) == 0 || !reflect.DeepEqual(got, wantAffected) {
		t.Errorf("rules: AffectedUsers with %d reads, %d selecting gave %v; want one selecting read giving %v", src.reads, src.selected, got, wantAffected)
	}
	for _, tc := range []struct {
		name string
		spy  attrSpy
		want int // selecting reads; the other reads are whole
	}{
		{"names known", attrSpy{names: []string{"department", "CostCenter"}}, 1},
		{"cannot tell", attrSpy{names: []string{"department"}, unknown: true}, 0},
	} {
		var other int
		tc.spy.other = &other
		src.reads, src.selected, src.names = 0, 0, nil
		eng, err = sync.New(src, e.client, sync.WithState(e.state), sync.WithMapper(tc.spy))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := eng.Plan(ctx(t)); err != nil {
			t.Fatal(err)
		}
		if src.selected != tc.want || src.reads != 1-tc.want {
			t.Errorf("%s: %d reads, %d selecting; want %d selecting", tc.name, src.reads, src.selected, tc.want)
		}
		if tc.want == 1 && !slices.Equal(src.names, tc.spy.names) {
			t.Errorf("%s: selected %q; want %q", tc.name, src.names, tc.spy.names)
		}
	}
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
