package pgstate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	gosync "sync"
	"testing"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// writeFront is a front to srv for one engine: it counts the write
// requests that engine sends (POST, PUT, PATCH, DELETE) and calls hook
// with each, and its count, before passing it on.
type writeFront struct {
	mu     gosync.Mutex
	writes []string // "METHOD /Users" or "/Groups", in order
	hook   func(n int, r *http.Request)
}

func (f *writeFront) client(t *testing.T, srv *netskopetest.Server) *netskope.Client {
	t.Helper()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			f.mu.Lock()
			f.writes = append(f.writes, r.Method+" "+resourceOf(r.URL.Path))
			if f.hook != nil {
				f.hook(len(f.writes), r)
			}
			f.mu.Unlock()
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	client, err := netskope.New(front.URL+netskopetest.BasePath, srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func (f *writeFront) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.writes...)
}

// resourceOf names the resource type of a SCIM path: "/Users" or "/Groups".
func resourceOf(path string) string {
	if strings.Contains(path, "/Groups") {
		return "/Groups"
	}
	return "/Users"
}

// changed returns dir with the changes of a busy day: six users renamed,
// two suspended, and four users moved to another group.
// requestOf numbers the write request each change of p goes out in at
// concurrency 1, in plan order: one request a change, but a group's
// add-members and remove-members changes share one (Apply sends them as
// one PATCH when, as here, no group outgrows a chunk).
func requestOf(p *sync.Plan) []int {
	n := make([]int, len(p.Changes))
	open := map[sync.Ref]int{}
	req := 0
	for i, c := range p.Changes {
		if c.Action == sync.ActionAddMembers || c.Action == sync.ActionRemoveMembers {
			if j, ok := open[c.Object]; ok && p.Changes[j].Action != c.Action {
				n[i] = n[j]
				delete(open, c.Object)
				continue
			}
			open[c.Object] = i
		}
		req++
		n[i] = req
	}
	return n
}

func changed(dir *source.Directory) *source.Directory {
	c := dir.Clone()
	for i := range 6 {
		c.Users[i].DisplayName += " (renamed)"
	}
	for i := 6; i < 8; i++ {
		c.Users[i].State = source.StateSuspended
	}
	moved := map[string]bool{}
	for i := 8; i < 12; i++ {
		moved[c.Users[i].ID] = true
	}
	for gi := range c.Groups {
		g := &c.Groups[gi]
		var keep []string
		for _, m := range g.Members {
			if !moved[m] {
				keep = append(keep, m)
			}
		}
		g.Members = keep
	}
	for i := 8; i < 12; i++ {
		// into the group after the one it was in (or the first)
		g := &c.Groups[(i+1)%len(c.Groups)]
		g.Members = append(g.Members, c.Users[i].ID)
	}
	return c
}

// TestLeaderLostMidApplyStopsEveryWrite: a leader applies updates,
// deactivations and membership changes (no creates, which its intents
// already guard); its lock session is terminated as its k-th write
// arrives. That write lands; the leader sends nothing more and its apply
// fails with ErrLocked. The standby, refused while the leader lived,
// takes over: the two together sent exactly the writes the plan needed,
// and the target then matches the source.
func TestLeaderLostMidApplyStopsEveryWrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action sync.Action // the lock is lost as the nth change of this kind is sent
		nth    int
		at     string // the request that change sends
	}{
		{"at the third user update", sync.ActionUpdateUser, 3, "PATCH /Users"},
		{"at a deactivation", sync.ActionDeactivateUser, 2, "PATCH /Users"},
		{"at the first member addition", sync.ActionAddMembers, 1, "PATCH /Groups"},
		{"at a member removal", sync.ActionRemoveMembers, 1, "PATCH /Groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pool := newPool(t)
			srv := netskopetest.New(t)
			dir := synth.Generate(synth.Config{Users: 16, Groups: 4, MembershipsPerUser: 1, Seed: 5})
			src := static{dir.Clone()}
			leaderState, standbyState := open(t, pool, "acme"), open(t, pool, "acme")
			var leader, standby writeFront
			engine := func(f *writeFront, st *State) *sync.Engine {
				e, err := sync.New(src, f.client(t, srv), sync.WithState(st), sync.WithTargetName("acme"), sync.WithConcurrency(1))
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
			leaderEng, standbyEng := engine(&leader, leaderState), engine(&standby, standbyState)
			if _, _, err := leaderEng.Sync(ctx); err != nil {
				t.Fatalf("initial sync: %v", err)
			}
			*src.dir = *changed(dir)
			p, err := leaderEng.Plan(ctx)
			if err != nil {
				t.Fatal(err)
			}
			needed := 0
			for _, c := range p.Changes {
				if c.Action == sync.ActionCreateUser || c.Action == sync.ActionCreateGroup {
					t.Fatalf("the plan creates %s; this test is about the other writes", c.Object)
				}
			}
			req := requestOf(p)
			if len(req) > 0 {
				needed = req[len(req)-1] // no group has more members than a chunk
			}
			initial := len(leader.sent())
			// At concurrency 1 the requests go out one by one in plan order.
			killAt, seen := 0, 0
			for i, c := range p.Changes {
				if c.Action == tc.action {
					if seen++; seen == tc.nth {
						killAt = req[i]
					}
				}
			}
			applied := 0 // the changes whose requests go out before the lock is lost
			for _, n := range req {
				if n <= killAt {
					applied++
				}
			}
			if killAt == 0 {
				t.Fatalf("the plan has %d %s changes; the case needs %d", seen, tc.action, tc.nth)
			}

			var killedAt string
			var standbyErr error
			leader.hook = func(n int, r *http.Request) {
				if n-initial != killAt {
					return
				}
				killedAt = r.Method + " " + resourceOf(r.URL.Path)
				_, standbyErr = standbyState.Load(ctx)
				terminateLeader(t, pool, leaderState)
			}
			_, res, err := leaderEng.Sync(ctx)
			if !errors.Is(err, sync.ErrLocked) {
				t.Fatalf("the leader's apply = %v, want an error wrapping ErrLocked", err)
			}
			if !errors.Is(standbyErr, sync.ErrLocked) {
				t.Fatalf("the standby's Load while the leader lived = %v, want ErrLocked", standbyErr)
			}
			if killedAt != tc.at {
				t.Fatalf("the lock was lost at %q; this case is about %q", killedAt, tc.at)
			}
			sent := leader.sent()[initial:]
			if len(sent) != killAt || sent[killAt-1] != tc.at {
				t.Fatalf("the leader sent %v; it lost its lock as write %d (%s) arrived and should have sent nothing more", sent, killAt, tc.at)
			}
			if res == nil || res.Applied != applied || res.Failed != 0 {
				t.Errorf("the leader's result: %+v; want %d applied (the changes of the writes sent), none failed", res, applied)
			}

			p, res, err = standbyEng.Sync(ctx)
			if err != nil {
				t.Fatalf("the new leader's sync: %v (%+v)", err, res)
			}
			took := standby.sent()
			if total := len(sent) + len(took); total != needed {
				t.Errorf("the old leader sent %d writes %v and the new one %d %v; want %d in all", len(sent), sent, len(took), took, needed)
			}
			if p, err := standbyEng.Plan(ctx); err != nil || !p.Empty() {
				t.Fatalf("re-plan = %v, %v; want empty", p, err)
			}
		})
	}
}
