package sync_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/sync"
)

// mergedSource is a source.Merged over a file source: owners names the
// source owning each id, as a merging source would.
type mergedSource struct {
	*file.Source
	owners map[string]string
}

var _ source.Merged = (*mergedSource)(nil)

func (m *mergedSource) OwnerOf(id string) string { return m.owners[id] }

// linkSources returns the owner each stored link names, by kind and id.
func linkSources(t *testing.T, st sync.State) map[string]string {
	t.Helper()
	return storedLinks(t, st, func(l sync.Link) string { return l.Source })
}

// storedLinks returns what field tells of each stored link, by kind and
// source id.
func storedLinks(t *testing.T, st sync.State, field func(sync.Link) string) map[string]string {
	t.Helper()
	snap, err := st.Load(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for id, l := range snap.Users {
		out["user:"+id] = field(l)
	}
	for id, l := range snap.Groups {
		out["group:"+id] = field(l)
	}
	return out
}

// TestLinksNameTheirOwner: every link records the source that owns its
// object: the source's name by default, the name WithOwner gives, or
// the owner a merged source names for each object.
func TestLinksNameTheirOwner(t *testing.T) {
	for _, tt := range []struct {
		name   string
		opts   []sync.Option
		merged map[string]string // owners of a merged source, by id
		want   func(kindID string) string
	}{
		{name: "source name", want: func(string) string { return "memory" }}, // file.FromDirectory's Name
		{name: "WithOwner", opts: []sync.Option{sync.WithOwner("employees")}, want: func(string) string { return "employees" }},
		{name: "merged", merged: map[string]string{}, want: func(k string) string {
			if strings.HasSuffix(k, "0") || strings.HasSuffix(k, "2") || strings.HasSuffix(k, "4") {
				return "contractors"
			}
			return "employees"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, 12, 3)
			var src source.Source = e.src
			if tt.merged != nil {
				for _, u := range e.dir.Users {
					tt.merged[u.ID] = tt.want("user:" + u.ID)
				}
				for _, g := range e.dir.Groups {
					tt.merged[g.ID] = tt.want("group:" + g.ID)
				}
				src = &mergedSource{Source: e.src, owners: tt.merged}
			}
			eng, err := sync.New(src, e.client, append([]sync.Option{sync.WithState(e.state)}, tt.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			e.apply(eng)
			got := linkSources(t, e.state)
			if len(got) == 0 {
				t.Fatal("no links stored")
			}
			kinds := map[string]bool{}
			for k, owner := range got {
				kinds[owner] = true
				if want := tt.want(k); owner != want {
					t.Errorf("link %s names owner %q, want %q", k, owner, want)
				}
			}
			if tt.merged != nil && len(kinds) != 2 {
				t.Errorf("links name owners %v, want both of the merged sources", kinds)
			}
			e.mustBeEmpty(eng)
		})
	}
}

// TestWithOwnerNeedsAName: an empty owner name, or one with a control
// character, is refused.
func TestWithOwnerNeedsAName(t *testing.T) {
	e := newEnv(t, 1, 0)
	for _, name := range []string{"", "a\nb"} {
		if _, err := sync.New(e.src, e.client, sync.WithOwner(name)); err == nil {
			t.Errorf("WithOwner(%q) accepted", name)
		}
	}
}

// TestLegacyLinksBelongToTheLoader: a state file written before links
// named their source is read as it is; its links belong to the engine
// that loads it, are written back naming it, and nothing is planned for
// them. In a merged directory, each is then named after its object's
// owner.
func TestLegacyLinksBelongToTheLoader(t *testing.T) {
	for _, merged := range []bool{false, true} {
		t.Run(map[bool]string{false: "one source", true: "merged"}[merged], func(t *testing.T) {
			e := newEnv(t, 8, 2)
			path := filepath.Join(t.TempDir(), "state.json")
			st := sync.NewFileState(path)
			e.state = st
			e.apply(e.engine())
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			// Strip every "source" field, as an earlier provsync wrote it.
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			legacy := strings.ReplaceAll(string(b), `"source":"memory",`, "")
			if strings.Contains(legacy, `"source"`) || legacy == string(b) {
				t.Fatalf("could not strip the owners from %s", b)
			}
			if err := os.WriteFile(path, []byte(legacy), 0o600); err != nil {
				t.Fatal(err)
			}
			st = sync.NewFileState(path)
			t.Cleanup(func() { st.Close() })
			e.state = st
			var src source.Source = e.src
			want := "hr"
			opts := []sync.Option{sync.WithState(st), sync.WithOwner("hr"), sync.WithOwnerMarker(false)}
			if merged {
				owners := map[string]string{}
				for _, u := range e.dir.Users {
					owners[u.ID] = "entra"
				}
				for _, g := range e.dir.Groups {
					owners[g.ID] = "entra"
				}
				src, want = &mergedSource{Source: e.src, owners: owners}, "entra"
			}
			eng, err := sync.New(src, e.client, opts...)
			if err != nil {
				t.Fatal(err)
			}
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Changes) != 0 || len(p.Problems) != 0 {
				t.Fatalf("plan over a legacy state has %d changes and %d problems", len(p.Changes), len(p.Problems))
			}
			// A change makes the apply save the state, with the owners.
			e.edit(func(d *source.Directory) { d.Users[0].GivenName = "Renamed" })
			e.apply(eng)
			got := linkSources(t, st)
			if len(got) != 10 {
				t.Fatalf("%d links after the apply, want 10", len(got))
			}
			for k, o := range got {
				if o != want {
					t.Errorf("link %s names owner %q, want %q", k, o, want)
				}
			}
		})
	}
}
