package pgtest

import "testing"

func TestInterleaved(t *testing.T) {
	tests := []struct {
		name  string
		order []int
		i     int
		other int
		bad   bool
	}{
		{"first write", nil, 0, 0, false},
		{"the same writer again", []int{0, 0}, 0, 0, false},
		{"a new writer takes over", []int{0, 0}, 1, 0, false},
		{"the old writer comes back", []int{0, 1}, 0, 1, true},
		{"a third after two", []int{0, 1, 1}, 2, 0, false},
		{"the first back after two others", []int{0, 1, 2}, 0, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			other, bad := Interleaved(tt.order, tt.i)
			if bad != tt.bad || other != tt.other {
				t.Errorf("Interleaved(%v, %d) = %d, %v; want %d, %v", tt.order, tt.i, other, bad, tt.other, tt.bad)
			}
		})
	}
}
