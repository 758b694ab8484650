package sync_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/sync"
)

// TestCachedDirectoryKeepsEveryField: the directory an incremental
// source last yielded survives the state file whole, so a run after a
// restart folds changes into what the source said, not into a copy that
// lost fields. The fixture sets every field of source.User and
// source.Group (checked by reflection, so a field added later must be
// added here, and to the cache's encoding).
func TestCachedDirectoryKeepsEveryField(t *testing.T) {
	when := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	dir := &source.Directory{
		Users: []source.User{{
			ID: "u-1", UserName: "ada@example.com", GivenName: "Ada", FamilyName: "Lovelace", DisplayName: "Ada L",
			Emails: []source.Email{{Value: "ada@example.com", Type: "work", Primary: true}},
			State:  source.StateDeleted, DeletedAt: when,
			Attributes: source.NewAttrs(map[string]any{"department": "Eng", "active": true, "level": int64(7), "score": 1.5,
				"roleIds": []string{"r1", "r2"}, "hired": when}),
		}},
		Groups: []source.Group{{
			ID: "g-1", DisplayName: "Everyone", Email: "all@example.com", Description: "all of us",
			Attributes: source.NewAttrs(map[string]any{"customerMember": true}), MembersNote: "every user through the domain",
			Members: []string{"u-1"}, MemberGroups: []string{"g-2"},
		}, {ID: "g-2", DisplayName: "Sub"}},
	}
	for _, v := range []any{dir.Users[0], dir.Users[0].Emails[0], dir.Groups[0]} {
		rv := reflect.ValueOf(v)
		for i := range rv.NumField() {
			if rv.Field(i).IsZero() {
				t.Fatalf("the fixture leaves %s.%s unset", rv.Type().Name(), rv.Type().Field(i).Name)
			}
		}
	}
	b, err := json.Marshal(&sync.CachedDirectory{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var got sync.CachedDirectory
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Dir.Users, dir.Users) {
		t.Errorf("users after a round trip:\n got %+v\nwant %+v", got.Dir.Users, dir.Users)
	}
	if !reflect.DeepEqual(got.Dir.Groups[0], dir.Groups[0]) {
		t.Errorf("group after a round trip:\n got %+v\nwant %+v", got.Dir.Groups[0], dir.Groups[0])
	}
}
