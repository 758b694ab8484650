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
	u := User{ID: "1", Attributes: map[string]any{"employeeType": "x"}}
	if v, ok := u.Attr("EmployeeTYPE"); !ok || v != "x" {
		t.Error("case-insensitive attribute lookup broken")
	}
	if v, ok := u.Attr("ID"); !ok || v != "1" {
		t.Error("case-insensitive built-in lookup broken")
	}
}
