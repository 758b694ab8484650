package fakeapi

import "testing"

func TestCountsAndFaults(t *testing.T) {
	c := Counts{Uncounted: "token"}
	c.Add("users")
	c.Add("users")
	c.Add("token")
	if c.Get("") != 2 || c.Get("users") != 2 || c.Get("token") != 1 {
		t.Fatalf("counts %d %d %d", c.Get(""), c.Get("users"), c.Get("token"))
	}
	c.Reset()
	if c.Get("") != 0 || c.Get("users") != 0 {
		t.Fatal("reset")
	}
	var q Faults[int]
	q.Add(Rule{Route: "users", Page: 2, Times: 2}, 500)
	q.Add(Rule{}, 429)
	tests := []struct {
		route string
		page  int
		want  int
		ok    bool
	}{{"users", 2, 500, true}, {"users", 1, 429, true}, {"users", 2, 500, true}, {"users", 2, 0, false}}
	for i, tt := range tests {
		if f, ok := q.Take(tt.route, tt.page); f != tt.want || ok != tt.ok {
			t.Errorf("take %d: %d %v, want %d %v", i, f, ok, tt.want, tt.ok)
		}
	}
	q.Add(Rule{Times: 5}, 1)
	q.Clear()
	if _, ok := q.Take("x", 1); ok {
		t.Error("cleared fault taken")
	}
}
