package cli

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/file"
	"github.com/provsync/provsync/source/sourcetest"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

func TestApprovalFlags(t *testing.T) {
	ctx := context.Background()
	ns := netskopetest.New(t)
	client, err := netskope.New(ns.URL(), ns.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	src := file.FromDirectory(&source.Directory{Users: []source.User{{ID: "1", UserName: "ada@example.com", State: source.StateActive}}})
	pol := sync.DefaultPolicy()
	pol.RequireApproval, _ = sync.ApprovalFor("create")
	eng, err := sync.New(src, client, sync.WithPolicy(pol))
	if err != nil {
		t.Fatal(err)
	}
	n := &Netskope{Apply: true}
	var out strings.Builder
	if _, _, err := n.PlanAndApply(ctx, eng, &out); err != nil || ns.UserCount() != 0 {
		t.Fatalf("first run: %v, %d users", err, ns.UserCount())
	}
	list, _ := eng.Approvals(ctx)
	if len(list) != 1 {
		t.Fatalf("%d held", len(list))
	}
	out.Reset()
	lister := &Netskope{Approvals: true}
	if p, _, err := lister.PlanAndApply(ctx, eng, &out); err != nil || p != nil || !strings.Contains(out.String(), list[0].ID+"  pending") {
		t.Fatalf("-approvals: %v %v\n%s", err, p, out.String())
	}
	if _, _, err := (&Netskope{Approve: list[0].ID}).PlanAndApply(ctx, eng, &out); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.PlanAndApply(ctx, eng, &out); err != nil || ns.UserCount() != 1 {
		t.Fatalf("after approval: %v, %d users", err, ns.UserCount())
	}
	if _, _, err := (&Netskope{Reject: "nope"}).PlanAndApply(ctx, eng, &out); err == nil {
		t.Error("rejecting an unknown id succeeded")
	}
}

func TestMessage(t *testing.T) {
	for _, tt := range []struct{ name, err, want string }{
		{"entra", "sync: source read failed: entra: reading the assignments: graph: 500",
			"sync: source read failed: entra: reading the assignments: graph: 500"},
		{"onelogin", "set NETSKOPE_SCIM_URL (or -url) and NETSKOPE_TOKEN", "onelogin: set NETSKOPE_SCIM_URL (or -url) and NETSKOPE_TOKEN"},
		{"google", "google: bad configuration: source: invalid: Customer: empty", "google: bad configuration: source: invalid: Customer: empty"},
	} {
		got := Message(tt.name, errors.New(tt.err))
		if got != tt.want {
			t.Errorf("Message(%q, %q) = %q, want %q", tt.name, tt.err, got, tt.want)
		}
		if w := sourcetest.RepeatedContext(got); w != "" {
			t.Errorf("%q repeats %q", got, w)
		}
	}
}

func TestList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil}, {" , ,", nil}, {"a", []string{"a"}}, {" a, b ,,c ", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		if got := List(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
