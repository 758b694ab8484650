package fakeapi

import (
	"context"
	"runtime"
	"testing"
)

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
		if f, ok := q.Take(context.Background(), tt.route, tt.page); f != tt.want || ok != tt.ok {
			t.Errorf("take %d: %d %v, want %d %v", i, f, ok, tt.want, tt.ok)
		}
	}
	q.Add(Rule{Times: 5}, 1)
	q.Clear()
	if _, ok := q.Take(context.Background(), "x", 1); ok {
		t.Error("cleared fault taken")
	}
}

func TestHold(t *testing.T) {
	var q Faults[int]
	q.Add(Rule{Route: "users", Times: 2, Hold: true}, 400)
	bg := context.Background()
	for i := range 2 {
		if f, ok := q.Take(bg, "users", i+1); f != 400 || !ok {
			t.Fatalf("take %d: %d %v, want the fault", i, f, ok)
		}
	}
	if q.Held() != 0 {
		t.Fatalf("%d held before the fault was spent", q.Held())
	}
	if _, ok := q.Take(bg, "groups", 1); ok {
		t.Fatal("another route is held or faulted")
	}
	// The client gives up: the request ends with the fault.
	gone, cancel := context.WithCancel(bg)
	cancel()
	if f, ok := q.Take(gone, "users", 3); f != 400 || !ok || q.Held() != 1 {
		t.Fatalf("held request: %d %v, held %d", f, ok, q.Held())
	}
	// Release answers a waiting request and stops holding.
	done := make(chan bool)
	go func() {
		_, ok := q.Take(bg, "users", 4)
		done <- ok
	}()
	for q.Held() != 2 {
		runtime.Gosched()
	}
	q.Release()
	if !<-done {
		t.Fatal("released request got no fault")
	}
	if _, ok := q.Take(bg, "users", 5); ok || q.Held() != 2 {
		t.Fatalf("after release: held %d, faulted %v", q.Held(), ok)
	}
}
