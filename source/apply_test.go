package source_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		dir     *source.Directory
		ch      *source.Changes
		want    *source.Directory
		wantErr string
	}{
		{
			name: "upsert replaces in place and appends",
			dir:  validDir(),
			ch: &source.Changes{
				Users:  []source.User{{ID: "u-2", UserName: "bob@example.com"}, {ID: "u-4", UserName: "dee@example.com"}},
				Groups: []source.Group{{ID: "g-2", DisplayName: "Ops 2", Members: []string{"u-4"}}},
			},
			want: &source.Directory{
				Users: []source.User{
					{ID: "u-1", UserName: "ada@example.com", Emails: []source.Email{{Value: "ada@example.com", Primary: true}}},
					{ID: "u-2", UserName: "bob@example.com"},
					{ID: "u-3", UserName: "cy@example.com", State: source.StateDeleted},
					{ID: "u-4", UserName: "dee@example.com"},
				},
				Groups: []source.Group{
					{ID: "g-1", DisplayName: "Eng", Members: []string{"u-1", "u-2"}, MemberGroups: []string{"g-2"}},
					{ID: "g-2", DisplayName: "Ops 2", Members: []string{"u-4"}},
				},
			},
		},
		{
			name: "removals drop objects and memberships",
			dir:  validDir(),
			ch:   &source.Changes{RemovedUsers: []string{"u-1", "u-404"}, RemovedGroups: []string{"g-2"}},
			want: &source.Directory{
				Users: []source.User{
					{ID: "u-2", UserName: "bob@example.com", State: source.StateSuspended},
					{ID: "u-3", UserName: "cy@example.com", State: source.StateDeleted},
				},
				Groups: []source.Group{{ID: "g-1", DisplayName: "Eng", Members: []string{"u-2"}, MemberGroups: []string{}}},
			},
		},
		{
			name: "full snapshot replaces everything",
			dir:  validDir(),
			ch: &source.Changes{Full: true, Users: []source.User{{ID: "u-9"}},
				Groups: []source.Group{{ID: "g-9", Members: []string{"u-9"}}}, RemovedUsers: []string{"u-9"}},
			want: &source.Directory{Users: []source.User{{ID: "u-9"}}, Groups: []source.Group{{ID: "g-9", Members: []string{"u-9"}}}},
		},
		{
			name: "full snapshot needs no base",
			ch:   &source.Changes{Full: true},
			want: &source.Directory{},
		},
		{
			name: "empty changes keep the snapshot",
			dir:  validDir(),
			ch:   &source.Changes{Cursor: "c2"},
			want: validDir(),
		},
		{
			name:    "partial changes need a base",
			ch:      &source.Changes{Users: []source.User{{ID: "u-1"}}},
			wantErr: "partial changes need a snapshot",
		},
		{
			name:    "no changes",
			dir:     validDir(),
			wantErr: "no changes",
		},
		{
			name:    "upserted and removed",
			dir:     validDir(),
			ch:      &source.Changes{Users: []source.User{{ID: "u-2"}}, RemovedUsers: []string{"u-2"}},
			wantErr: `user "u-2": both upserted and removed`,
		},
		{
			name:    "group upserted and removed",
			dir:     validDir(),
			ch:      &source.Changes{Groups: []source.Group{{ID: "g-2"}}, RemovedGroups: []string{"g-2"}},
			wantErr: `group "g-2": both upserted and removed`,
		},
		{
			name: "user upserted twice",
			dir:  validDir(),
			ch: &source.Changes{Users: []source.User{{ID: "u-9", UserName: "a@example.com"},
				{ID: "u-8", UserName: "b@example.com"}, {ID: "u-9", UserName: "c@example.com"}}},
			wantErr: `user "u-9": id: the changes list the user twice (users[0] and users[2])`,
		},
		{
			name:    "group upserted twice",
			dir:     validDir(),
			ch:      &source.Changes{Groups: []source.Group{{ID: "g-1", DisplayName: "A"}, {ID: "g-1", DisplayName: "B"}}},
			wantErr: `group "g-1": id: the changes list the group twice (groups[0] and groups[1])`,
		},
		{
			name:    "changed user must be valid",
			dir:     validDir(),
			ch:      &source.Changes{Users: []source.User{{ID: "u-1", UserName: "ada\x00@example.com"}}},
			wantErr: `user "u-1" (users[0]): userName: control character U+0000`,
		},
		{
			name:    "result must be valid",
			dir:     validDir(),
			ch:      &source.Changes{Groups: []source.Group{{ID: "g-2", Members: []string{"u-404"}}}},
			wantErr: `group "g-2" (groups[1]): members[0]: unknown user "u-404"`,
		},
	}
	for _, tt := range tests {
		for _, fn := range []struct {
			name    string
			apply   func(*source.Directory, *source.Changes) (*source.Directory, error)
			inPlace bool // gives dir up
		}{{"Apply", source.Apply, false}, {"ApplyShared", source.ApplyShared, false}, {"ApplyInPlace", source.ApplyInPlace, true}} {
			t.Run(fn.name+"/"+tt.name, func(t *testing.T) {
				dir := tt.dir
				var before *source.Directory
				if dir != nil {
					before = dir.Clone()
					if fn.inPlace {
						dir = dir.Clone()
					}
				}
				var chBefore *source.Changes
				if tt.ch != nil {
					chBefore = cloneChanges(tt.ch)
				}
				got, err := fn.apply(dir, tt.ch)
				if tt.ch != nil && !reflect.DeepEqual(tt.ch, chBefore) {
					t.Error("Apply() modified the changes")
				}
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, source.ErrInvalid) {
						t.Fatalf("Apply() error = %v, want ErrInvalid containing %q", err, tt.wantErr)
					}
					if got != nil {
						t.Fatalf("Apply() returned a directory with an error")
					}
					return
				}
				if err != nil {
					t.Fatalf("Apply() = %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Apply() =\n%+v\nwant\n%+v", got, tt.want)
				}
				if tt.dir != nil && !reflect.DeepEqual(tt.dir, before) {
					t.Error("Apply() modified its input")
				}
			})
		}
	}
}

// TestApplySharedSharesUnchanged: ApplyShared keeps the objects the
// changes leave alone as they are in dir (same attribute maps, emails,
// members), copies the changed ones, and modifies neither input, even
// when a removal drops a member from a group it shares.
func TestApplySharedSharesUnchanged(t *testing.T) {
	dir := validDir()
	dir.Users[1].Attributes = source.NewAttrs(map[string]any{"department": "R&D", "tags": []string{"a"}})
	dir.Users[1].Emails = []source.Email{{Value: "bob@example.com", Primary: true}}
	before := dir.Clone()
	gone := dir.Users[0].ID
	ch := &source.Changes{Users: []source.User{{ID: "u-5", UserName: "five@example.com", Emails: []source.Email{{Value: "e@x"}}}},
		RemovedUsers: []string{gone}}
	got, err := source.ApplyShared(dir, ch)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dir, before) {
		t.Fatalf("ApplyShared modified its input:\n%+v\nwas\n%+v", dir, before)
	}
	var kept *source.User
	for i := range got.Users {
		if got.Users[i].ID == dir.Users[1].ID {
			kept = &got.Users[i]
		}
	}
	if kept == nil || &kept.Attributes.Value("tags").([]string)[0] != &dir.Users[1].Attributes.Value("tags").([]string)[0] ||
		&kept.Emails[0] != &dir.Users[1].Emails[0] {
		t.Error("an unchanged user was copied")
	}
	for _, g := range got.Groups {
		if slices.Contains(g.Members, gone) {
			t.Errorf("group %s still lists the removed user", g.ID)
		}
	}
	added := got.Users[len(got.Users)-1]
	if &added.Emails[0] == &ch.Users[0].Emails[0] {
		t.Error("a changed user shares its emails with the changes")
	}
}

func TestApplySharesNothing(t *testing.T) {
	dir := validDir()
	ch := &source.Changes{Users: []source.User{{ID: "u-5", Emails: []source.Email{{Value: "e@x"}}}}}
	got, err := source.Apply(dir, ch)
	if err != nil {
		t.Fatal(err)
	}
	got.Users[0].Emails[0].Value = "changed"
	got.Users[3].Emails[0].Value = "changed"
	got.Groups[0].Members[0] = "changed"
	if dir.Users[0].Emails[0].Value == "changed" || ch.Users[0].Emails[0].Value == "changed" || dir.Groups[0].Members[0] == "changed" {
		t.Fatal("the result of Apply shares data with its inputs")
	}
}

func TestChangesEmpty(t *testing.T) {
	tests := []struct {
		ch   source.Changes
		want bool
	}{
		{source.Changes{}, true},
		{source.Changes{Cursor: "c"}, true},
		{source.Changes{Full: true}, false},
		{source.Changes{RemovedUsers: []string{"u"}}, false},
		{source.Changes{Groups: []source.Group{{ID: "g"}}}, false},
	}
	for i, tt := range tests {
		if got := tt.ch.Empty(); got != tt.want {
			t.Errorf("case %d: Empty() = %v, want %v", i, got, tt.want)
		}
	}
}
