package source

import (
	"slices"
	"strings"
	"testing"
)

// TestUserSpellings keeps the fast spellings table in step with the
// built-in names.
func TestUserSpellings(t *testing.T) {
	for k, v := range userSpellings {
		if strings.ToLower(k) != v || !slices.Contains(userBuiltins[:], v) {
			t.Errorf("userSpellings[%q] = %q", k, v)
		}
	}
	if len(userSpellings) != len(userBuiltins) {
		t.Errorf("%d spellings for %d built-in names", len(userSpellings), len(userBuiltins))
	}
	u := User{ID: "1", Attributes: NewAttrs(map[string]any{"employeeType": "x"})}
	if v, ok := u.Attr("EmployeeTYPE"); !ok || v != "x" {
		t.Error("case-insensitive attribute lookup broken")
	}
	if v, ok := u.Attr("ID"); !ok || v != "1" {
		t.Error("case-insensitive built-in lookup broken")
	}
}

// TestUserAttrRef holds the resolved reads equal to User.Attr for every
// built-in name and spelling, and for attributes.
func TestUserAttrRef(t *testing.T) {
	u := User{ID: "1", UserName: "ada@x.com", GivenName: "Ada", DisplayName: "Ada L", State: StateSuspended,
		Emails: []Email{{Value: "ada@x.com", Primary: true}}, Attributes: NewAttrs(map[string]any{"dept": "R&D", "Level": int64(3)})}
	names := []string{"dept", "DEPT", "level", "Level", "missing", "familyName", "SURNAME"}
	for k := range userSpellings {
		names = append(names, k, strings.ToUpper(k))
	}
	for _, n := range names {
		r := ResolveUserAttr(n)
		want, wok := u.Attr(n)
		got, gok := r.Value(&u)
		if wok != gok || !equalAny(want, got) {
			t.Errorf("%s: Value = %v %v, Attr = %v %v", n, got, gok, want, wok)
		}
		if s, isStr := r.Str(&u); isStr {
			if (s != "") != wok || (wok && want != s) {
				t.Errorf("%s: Str = %q, Attr = %v %v", n, s, want, wok)
			}
		}
		if r.Builtin() != IsBuiltinUserAttr(n) || r.Name() != n {
			t.Errorf("%s: Builtin/Name disagree", n)
		}
	}
}

func equalAny(a, b any) bool {
	as, aok := a.([]string)
	bs, bok := b.([]string)
	if aok || bok {
		return slices.Equal(as, bs)
	}
	return a == b
}
