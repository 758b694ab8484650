package pgstate

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	gosync "sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/target/netskope"
	"github.com/provsync/provsync/target/netskope/netskopetest"
)

// terminateLeader ends the backend of st's lock connection, as a lost
// connection or a crashed process would, and waits (up to a minute) until
// the backend has exited: its locks are held until then.
func terminateLeader(t *testing.T, pool *pgxpool.Pool, st *State) {
	t.Helper()
	st.mu.Lock()
	pid := st.lockConn.PgConn().PID()
	st.mu.Unlock()
	var ok bool
	if err := pool.QueryRow(context.Background(), "SELECT pg_terminate_backend($1, 60000)", pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate backend %d: %v, %v", pid, ok, err)
	}
}

// TestLeaderLock: one State per target leads; the others get ErrLocked
// on every call. A leader whose lock session is terminated writes
// nothing more (CheckLeader says so), and a standby takes over; the old leader leads again
// only after the new one closes, and only through a Load.
func TestLeaderLock(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	a, b := open(t, pool, "acme"), open(t, pool, "acme")
	other := open(t, pool, "globex") // another target: a lock of its own
	if _, err := a.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Load(ctx); err != nil {
		t.Fatalf("the leader of another target: %v", err)
	}
	if _, err := b.Load(ctx); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("standby Load = %v, want ErrLocked", err)
	}
	if err := saveUsers(t, b, 1, "b"); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("standby Save = %v, want ErrLocked", err)
	}
	link := func(id string) sync.Record {
		return sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: id, Link: &sync.Link{TargetID: "t-" + id}}
	}
	if err := b.Record(ctx, link("b")); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("standby Record = %v, want ErrLocked", err)
	}
	if !a.Leader() || b.Leader() {
		t.Fatalf("Leader: a %v, b %v; want a only", a.Leader(), b.Leader())
	}
	if err := a.CheckLeader(ctx); err != nil {
		t.Fatalf("the leader's CheckLeader = %v", err)
	}
	if err := b.CheckLeader(ctx); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("standby CheckLeader = %v, want ErrLocked", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.CheckLeader(cancelled); err == nil || !a.Leader() {
		t.Fatalf("CheckLeader with a cancelled context = %v, leader %v; want an error, and the lock kept", err, a.Leader())
	}
	if err := a.Record(ctx, link("a1")); err != nil {
		t.Fatal(err)
	}

	terminateLeader(t, pool, a)
	if err := a.CheckLeader(ctx); !errors.Is(err, sync.ErrLocked) || a.Leader() {
		t.Fatalf("CheckLeader after the lock's session ended = %v, leader %v; want ErrLocked, not leader", err, a.Leader())
	}
	if err := a.Record(ctx, link("a2")); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("Record after the lock was lost = %v, want ErrLocked", err)
	}
	if err := saveUsers(t, a, 1, "a3"); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("Save after the lock was lost = %v, want ErrLocked", err)
	}
	s, err := b.Load(ctx) // the standby takes over
	if err != nil {
		t.Fatalf("standby Load after the leader died = %v", err)
	}
	if len(s.Users) != 1 || s.Users["a1"].TargetID != "t-a1" {
		t.Fatalf("the new leader loads %v; want only a1 (nothing written after the lock was lost)", s.Users)
	}
	if _, err := a.Load(ctx); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("the old leader's Load while b leads = %v, want ErrLocked", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(ctx, link("a4")); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("the old leader's Record before a Load = %v, want ErrLocked", err)
	}
	if _, err := a.Load(ctx); err != nil {
		t.Fatalf("the old leader's Load after b closed = %v", err)
	}
	if err := a.Record(ctx, link("a5")); err != nil {
		t.Fatal(err)
	}
}

// TestLeaderKilledMidApply: the leader's lock session is terminated while
// it creates users, one at a time. It sends no create after that; the
// standby, refused while the leader lived, takes over and finishes, and
// the server received each create exactly once.
func TestLeaderKilledMidApply(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	srv := netskopetest.New(t)
	dir := synth.Generate(synth.Config{Users: 30, Groups: 3, MembershipsPerUser: 1, Seed: 7})
	leader, standby := open(t, pool, "acme"), open(t, pool, "acme")

	const killAt = 10 // the leader's lock is lost as this create arrives
	var mu gosync.Mutex
	posts := 0
	var standbyErr error
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mu.Lock()
			posts++
			if posts == killAt {
				_, standbyErr = standby.Load(r.Context())
				terminateLeader(t, pool, leader)
			}
			mu.Unlock()
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	defer front.Close()
	client, err := netskope.New(front.URL+netskopetest.BasePath, srv.Token(), netskope.WithRateLimit(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	engine := func(st *State) *sync.Engine {
		e, err := sync.New(static{dir}, client, sync.WithState(st), sync.WithTargetName("acme"), sync.WithConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if _, _, err := engine(leader).Sync(ctx); !errors.Is(err, sync.ErrLocked) {
		t.Fatalf("the leader's sync = %v, want an error wrapping ErrLocked", err)
	}
	if !errors.Is(standbyErr, sync.ErrLocked) {
		t.Fatalf("the standby's Load while the leader lived = %v, want ErrLocked", standbyErr)
	}
	mu.Lock()
	if posts != killAt {
		t.Fatalf("the server received %d creates; the leader lost its lock at the %dth and should have stopped", posts, killAt)
	}
	mu.Unlock()
	if _, _, err := engine(standby).Sync(ctx); err != nil {
		t.Fatalf("the new leader's sync: %v", err)
	}
	want := len(dir.Users) + len(dir.Groups)
	mu.Lock()
	if posts != want || srv.UserCount() != len(dir.Users) || srv.GroupCount() != len(dir.Groups) {
		t.Fatalf("%d creates received, server holds %d users and %d groups; want %d creates, %d and %d",
			posts, srv.UserCount(), srv.GroupCount(), want, len(dir.Users), len(dir.Groups))
	}
	mu.Unlock()
	p, err := engine(standby).Plan(ctx)
	if err != nil || !p.Empty() {
		t.Fatalf("re-plan = %+v, %v; want empty", p, err)
	}
}
