package source

import (
	"fmt"
	"testing"
)

// TestLowerCollide: attribute names collide when equal in lower case,
// with few names (compared pairwise) and with many (a set).
func TestLowerCollide(t *testing.T) {
	many := func(extra ...string) map[string]any {
		m := map[string]any{}
		for i := range 20 {
			m[fmt.Sprintf("attr%d", i)] = "v"
		}
		for _, k := range extra {
			m[k] = "v"
		}
		return m
	}
	tests := []struct {
		name  string
		attrs map[string]any
		want  bool
	}{
		{"distinct", map[string]any{"dept": 1, "costCenter": 2, "site": 3}, false},
		{"case only", map[string]any{"dept": 1, "site": 2, "Dept": 3}, true},
		{"Kelvin sign lowers to k", map[string]any{"\u212aey": 1, "key": 2}, true},
		{"long s folds to s but does not lower to it", map[string]any{"\u017fite": 1, "site": 2}, false},
		{"many distinct", many(), false},
		{"many, case only", many("ATTR7"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lowerCollide(NewAttrs(tt.attrs).Names()); got != tt.want {
				t.Errorf("lowerCollide(%v) = %v, want %v", tt.attrs, got, tt.want)
			}
		})
	}
}
