package netskopetest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/provsync/provsync/scim"
)

// TestListLies: each lie shapes the pages of a 10-user collection read 4
// at a time as documented; single reads stay true.
func TestListLies(t *testing.T) {
	type pageWant struct {
		total int
		ids   []int // indexes into the seeded users; nil: "Resources": null
	}
	tests := []struct {
		lie   ListLie
		pages map[int]pageWant // by startIndex
	}{
		{ListTruthful, map[int]pageWant{1: {10, []int{0, 1, 2, 3}}, 5: {10, []int{4, 5, 6, 7}}, 9: {10, []int{8, 9}}}},
		{ListEmpty, map[int]pageWant{1: {0, []int{}}, 5: {0, []int{}}}},
		{ListNullResources, map[int]pageWant{1: {10, nil}, 5: {10, nil}}},
		{ListTotalFirstPage, map[int]pageWant{1: {4, []int{0, 1, 2, 3}}, 5: {4, []int{4, 5, 6, 7}}}},
		{ListTotalDrifts, map[int]pageWant{1: {10, []int{0, 1, 2, 3}}, 5: {9, []int{4, 5, 6, 7}}}},
		{ListShortPage, map[int]pageWant{1: {10, []int{0, 1, 2, 3}}, 5: {10, []int{4, 5}}, 7: {10, []int{}}}},
		{ListRepeats, map[int]pageWant{1: {10, []int{0, 1, 2, 3}}, 5: {10, []int{3, 4, 5, 6}}, 8: {10, []int{6, 7, 8, 9}}}},
	}
	for _, tt := range tests {
		t.Run(tt.lie.String(), func(t *testing.T) {
			s := New(t)
			s.SetListLie(tt.lie)
			users := seedUsers(t, s, "u", 10)
			c := newClient(t, s)
			for start, want := range tt.pages {
				var raw map[string]any
				c.must(http.StatusOK, http.MethodGet, fmt.Sprintf("/Users?startIndex=%d&count=4", start), nil).decode(t, &raw)
				if got, _ := raw["totalResults"].(float64); int(got) != want.total {
					t.Errorf("startIndex=%d: totalResults %v, want %d", start, raw["totalResults"], want.total)
				}
				res, present := raw["Resources"]
				if want.ids == nil {
					if !present || res != nil {
						t.Errorf("startIndex=%d: Resources = %v, want null", start, res)
					}
					continue
				}
				list, _ := res.([]any)
				var got, exp []string
				for _, r := range list {
					got = append(got, r.(map[string]any)["id"].(string))
				}
				for _, i := range want.ids {
					exp = append(exp, users[i].ID)
				}
				if strings.Join(got, ",") != strings.Join(exp, ",") {
					t.Errorf("startIndex=%d: ids %v, want %v", start, got, exp)
				}
			}
			var u scim.User
			c.must(http.StatusOK, http.MethodGet, "/Users/"+users[7].ID, nil).decode(t, &u)
			if u.ID != users[7].ID {
				t.Errorf("a single read lies too: %+v", u)
			}
			s.SetListLie(ListTruthful)
			if lr := c.listUsers("?count=100"); lr.TotalResults != 10 || len(lr.Resources) != 10 {
				t.Errorf("after SetListLie(ListTruthful): %d of %d", len(lr.Resources), lr.TotalResults)
			}
		})
	}
}

// TestFilterQuirks: each quirk makes a filter miss, or refuse, what
// uniqueness still guards; without it the same filter finds the user.
func TestFilterQuirks(t *testing.T) {
	tests := []struct {
		name       string
		quirks     FilterQuirks
		stored     string // userName stored
		asked      string // userName the filter asks for
		wantStatus int
		wantFound  int
	}{
		{"case-insensitive eq by default", FilterQuirks{}, "Ann.Lee", "ann.lee", http.StatusOK, 1},
		{"CaseExactEq misses another case", FilterQuirks{CaseExactEq: true}, "Ann.Lee", "ann.lee", http.StatusOK, 0},
		{"CaseExactEq finds the same case", FilterQuirks{CaseExactEq: true}, "Ann.Lee", "Ann.Lee", http.StatusOK, 1},
		{"a quote is matched by default", FilterQuirks{}, `o"neil`, `o"neil`, http.StatusOK, 1},
		{"RejectQuotes refuses a quote", FilterQuirks{RejectQuotes: true}, `o"neil`, `o"neil`, http.StatusBadRequest, 0},
		{"RejectQuotes passes other values", FilterQuirks{RejectQuotes: true}, "ann", "ann", http.StatusOK, 1},
		{"a backslash is matched by default", FilterQuirks{}, `dom\ann`, `dom\ann`, http.StatusOK, 1},
		{"RawEscapes misses a backslash", FilterQuirks{RawEscapes: true}, `dom\ann`, `dom\ann`, http.StatusOK, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, WithFilterQuirks(tt.quirks))
			if _, err := s.AddUser(user(tt.stored)); err != nil {
				t.Fatal(err)
			}
			c := newClient(t, s)
			res := c.send(http.MethodGet, "/Users"+filterQuery(t, scim.Eq(scim.PathUserName, tt.asked)), nil)
			if res.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			if res.status != http.StatusOK {
				if e := res.scimErr(t); e.ScimType != scim.ScimTypeInvalidFilter {
					t.Errorf("scimType %q, want invalidFilter", e.ScimType)
				}
				return
			}
			var lr scim.ListResponse[scim.User]
			res.decode(t, &lr)
			if len(lr.Resources) != tt.wantFound {
				t.Errorf("found %d, want %d", len(lr.Resources), tt.wantFound)
			}
			// Uniqueness ignores case and escapes whatever the quirks.
			dup := c.send(http.MethodPost, "/Users", user(strings.ToUpper(tt.stored)))
			if dup.status != http.StatusConflict {
				t.Errorf("creating %q again: status %d, want 409", strings.ToUpper(tt.stored), dup.status)
			}
		})
	}
}

// TestWithoutEmptyMembers: a group without members is read without the
// attribute even when members are asked for; one with members has them.
func TestWithoutEmptyMembers(t *testing.T) {
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprint("omit=", omit), func(t *testing.T) {
			var opts []Option
			if omit {
				opts = append(opts, WithoutEmptyMembers())
			}
			s := New(t, opts...)
			u := seedUsers(t, s, "u", 1)[0]
			c := newClient(t, s)
			empty := c.createGroup(scim.Group{DisplayName: "empty"})
			full := c.createGroup(scim.Group{DisplayName: "full", Members: []scim.Member{{Value: u.ID}}})
			var raw map[string]any
			c.must(http.StatusOK, http.MethodGet, "/Groups/"+empty.ID+"?attributes=members", nil).decode(t, &raw)
			if _, has := raw["members"]; has == omit {
				t.Errorf("empty group read with members: %v", raw)
			}
			for _, g := range c.listGroups("?attributes=members").Resources {
				switch {
				case g.ID == full.ID && len(g.Members) != 1:
					t.Errorf("full group listed with members %v", g.Members)
				case g.ID == empty.ID && (g.Members == nil) != omit:
					t.Errorf("empty group listed with members %#v", g.Members)
				}
			}
		})
	}
}
