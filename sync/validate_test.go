package sync_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/provsync/provsync/mapping"
	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// rawSource returns a fixed directory as it is, without validating it, as
// a careless custom source would.
type rawSource struct{ dir *source.Directory }

var _ source.Source = rawSource{}

func (rawSource) Name() string { return "raw" }

func (s rawSource) Read(context.Context) (*source.Directory, error) { return s.dir.Clone(), nil }

// rawFeed is an incremental source that serves a valid full read first,
// then the changes it is given, unchecked.
type rawFeed struct {
	full *source.Directory
	next *source.Changes
}

var _ source.Incremental = (*rawFeed)(nil)

func (*rawFeed) Name() string { return "raw-feed" }

func (f *rawFeed) Read(context.Context) (*source.Directory, error) { return f.full.Clone(), nil }

func (f *rawFeed) ReadChanges(_ context.Context, cursor string) (*source.Changes, error) {
	if cursor == "" {
		d := f.full.Clone()
		return &source.Changes{Users: d.Users, Groups: d.Groups, Cursor: "1", Full: true}, nil
	}
	return f.next, nil
}

// newTarget starts an embedded Netskope server and a client for it.
func newTarget(t *testing.T) (*netskopetest.Server, *netskope.Client) {
	t.Helper()
	srv := netskopetest.New(t)
	c, err := netskope.New(srv.URL(), srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func validSource() *source.Directory {
	return &source.Directory{
		Users: []source.User{
			{ID: "u-1", UserName: "ada@example.com"},
			{ID: "u-2", UserName: "bob@example.com"},
		},
		Groups: []source.Group{{ID: "g-1", DisplayName: "Eng", Members: []string{"u-1"}}},
	}
}

// TestInvalidReadWritesNothing: whatever a source returns, a directory
// that fails validation is an error matching source.ErrInvalid, and the
// target receives no write.
func TestInvalidReadWritesNothing(t *testing.T) {
	tests := []struct {
		name string
		dir  func(d *source.Directory) // a full read, edited
		ch   func() *source.Changes    // or changes after a valid first run
		want string
	}{
		{name: "duplicate user id", dir: func(d *source.Directory) {
			d.Users = append(d.Users, source.User{ID: "u-1", UserName: "ada2@example.com"})
		}, want: `user "u-1" (users[2]): id: duplicate of users[0]`},
		{name: "duplicate group id", dir: func(d *source.Directory) {
			d.Groups = append(d.Groups, source.Group{ID: "g-1", DisplayName: "Ops"})
		}, want: `group "g-1" (groups[1]): id: duplicate of groups[0]`},
		{name: "user names equal ignoring case", dir: func(d *source.Directory) { d.Users[1].UserName = "ADA@example.com" },
			want: `user "u-2" (users[1]): userName: "ADA@example.com" is also the user name of user "u-1"`},
		{name: "unknown member", dir: func(d *source.Directory) { d.Groups[0].Members = []string{"u-9"} },
			want: `members[0]: unknown user "u-9"`},
		{name: "NUL in user name", dir: func(d *source.Directory) { d.Users[0].UserName = "ada\x00@example.com" },
			want: `userName: control character U+0000`},
		{name: "changes list a new user twice", ch: func() *source.Changes {
			return &source.Changes{Cursor: "2", Users: []source.User{
				{ID: "u-3", UserName: "cy@example.com"}, {ID: "u-3", UserName: "cy2@example.com"}}}
		}, want: `user "u-3": id: the changes list the user twice`},
		{name: "changes list a group twice", ch: func() *source.Changes {
			return &source.Changes{Cursor: "2", Groups: []source.Group{
				{ID: "g-2", DisplayName: "Ops"}, {ID: "g-2", DisplayName: "Ops 2"}}}
		}, want: `group "g-2": id: the changes list the group twice`},
		{name: "changed user name invalid UTF-8", ch: func() *source.Changes {
			return &source.Changes{Cursor: "2", Users: []source.User{{ID: "u-2", UserName: "bob\xff@example.com"}}}
		}, want: `user "u-2" (users[1]): userName: not valid UTF-8`},
		{name: "changes take a user name", ch: func() *source.Changes {
			return &source.Changes{Cursor: "2", Users: []source.User{{ID: "u-3", UserName: "Bob@Example.com"}}}
		}, want: `user "u-3" (users[2]): userName: "Bob@Example.com" is also the user name of user "u-2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newTarget(t)
			var src source.Source
			if tt.dir != nil {
				d := validSource()
				tt.dir(d)
				src = rawSource{dir: d}
			} else {
				src = &rawFeed{full: validSource(), next: tt.ch()}
			}
			eng, err := sync.New(src, c)
			if err != nil {
				t.Fatal(err)
			}
			if tt.ch != nil { // a valid first run, then the changes
				if _, res, err := eng.Sync(ctx(t)); err != nil || res.Failed > 0 {
					t.Fatalf("first run: %v %v", err, res)
				}
				srv.ResetStats()
			}
			users := srv.UserCount()
			p, res, err := eng.Sync(ctx(t))
			if err == nil {
				t.Fatalf("Run() = plan %v, result %v; want an error", p != nil, res != nil)
			}
			if !errors.Is(err, source.ErrInvalid) || !errors.Is(err, sync.ErrSourceRead) {
				t.Errorf("Run() error %v does not match source.ErrInvalid and sync.ErrSourceRead", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run() error = %v\nwant it to contain %q", err, tt.want)
			}
			if p != nil || res != nil {
				t.Errorf("Run() returned a plan or a result with the error")
			}
			if w := srv.Stats().Writes(); w != 0 {
				t.Errorf("the target received %d writes", w)
			}
			if n := srv.UserCount(); n != users {
				t.Errorf("the target holds %d users, want %d", n, users)
			}
		})
	}
}

// TestScopeOnMissingAttributeIsHeld: a scoping filter on an attribute no
// source user has is a warning naming the filter and the attribute; when
// it leaves no user in scope, the plan waits for confirmation instead of
// deprovisioning everyone, however few they are.
func TestScopeOnMissingAttributeIsHeld(t *testing.T) {
	filter := func(name, attr, value string) mapping.ScopingFilter {
		return mapping.ScopingFilter{Name: name, Clauses: []mapping.Clause{{Attribute: attr, Operator: mapping.OpEquals, Value: value}}}
	}
	tests := []struct {
		name     string
		scope    mapping.Scope
		warnings []string
		held     bool
		writes   bool // the plan applies and deactivates
	}{
		{name: "misspelt attribute", scope: mapping.Scope{filter("Sales", "departmnet", "Sales")},
			warnings: []string{`scoping filter "Sales" clause 0 (departmnet EQUALS "Sales"): no source user has attribute "departmnet"`},
			held:     true},
		{name: "present attribute, no match", scope: mapping.Scope{filter("Nobody", "department", "Nobody")}, writes: true},
		{name: "another filter accepts", scope: mapping.Scope{filter("Typo", "departmnet", "Sales"), filter("R&D", "department", "R&D")},
			warnings: []string{`scoping filter "Typo" clause 0`}, writes: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := newTarget(t)
			dir := validSource()
			for i := range dir.Users {
				dir.Users[i].Attributes = source.NewAttrs(map[string]any{"department": "Sales"})
			}
			dir.Users[1].Attributes = dir.Users[1].Attributes.With("department", "R&D")
			src, state := rawSource{dir: dir}, sync.NewMemoryState()
			first, err := sync.New(src, c, sync.WithState(state))
			if err != nil {
				t.Fatal(err)
			}
			if _, res, err := first.Sync(ctx(t)); err != nil || res.Failed > 0 {
				t.Fatalf("first run: %v %v", err, res)
			}
			m, err := mapping.Rules{Scope: tt.scope}.Compile()
			if err != nil {
				t.Fatal(err)
			}
			eng, err := sync.New(src, c, sync.WithState(state), sync.WithMapper(m))
			if err != nil {
				t.Fatal(err)
			}
			srv.ResetStats()
			p, err := eng.Plan(ctx(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Warnings) != len(tt.warnings) {
				t.Errorf("warnings %q, want %d", p.Warnings, len(tt.warnings))
			}
			var out strings.Builder
			_ = p.Render(&out, 0)
			for i, w := range tt.warnings {
				if i < len(p.Warnings) && !strings.Contains(p.Warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, p.Warnings[i], w)
				}
				if !strings.Contains(out.String(), "warning: "+w) {
					t.Errorf("the rendered plan lacks warning %q:\n%s", w, out.String())
				}
			}
			if held := !p.Applyable && p.NeedsConfirmation; held != tt.held {
				t.Errorf("applyable=%v needsConfirmation=%v reasons %q; want held=%v", p.Applyable, p.NeedsConfirmation, p.Reasons, tt.held)
			}
			_, err = eng.Apply(ctx(t), p)
			if tt.held != errors.Is(err, sync.ErrNotApplyable) {
				t.Errorf("Apply() = %v", err)
			}
			if w := srv.Stats().Writes(); (w > 0) != tt.writes {
				t.Errorf("the target received %d writes, want writes=%v", w, tt.writes)
			}
		})
	}
}
