package pgstate

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/provsync/provsync/source"
	"github.com/provsync/provsync/source/synth"
	"github.com/provsync/provsync/sync"
	"github.com/provsync/provsync/sync/internal/statetest"
	"github.com/provsync/provsync/sync/pgstate/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// newPool connects to a new database on the test server.
func newPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func open(t *testing.T, pool *pgxpool.Pool, target string, opts ...Option) *State {
	t.Helper()
	st, err := Open(context.Background(), pool, target, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return st
}

func TestStateContract(t *testing.T) {
	pool := newPool(t)
	n := 0
	statetest.Run(t, func(t *testing.T) sync.State {
		n++ // a target of its own: the same database, an empty state
		return open(t, pool, "tenant-"+string(rune('a'+n)))
	})
}

func saveUsers(t *testing.T, st sync.State, serial int64, ids ...string) error {
	t.Helper()
	s := sync.NewSnapshot()
	s.Serial = serial
	for _, id := range ids {
		s.Users[id] = sync.Link{TargetID: "t-" + id, Origin: sync.OriginCreated}
	}
	return st.Save(context.Background(), s)
}

func userIDs(t *testing.T, st sync.State) (int64, []string) {
	t.Helper()
	s, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for id := range s.Users {
		ids = append(ids, id)
	}
	return s.Serial, ids
}

// TestCompareAndSwapAcrossProcesses: two States on one target (two
// replicas) load the same serial; the second save is stale, and a save by
// one is seen by the other, whose own known rows are then out of date.
func TestCompareAndSwapAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	a, b := open(t, pool, "acme", WithoutLeaderLock()), open(t, pool, "acme", WithoutLeaderLock())
	sa, err := a.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sa.Serial++
	sa.Users["x"] = sync.Link{TargetID: "tx"}
	if err := a.Save(ctx, sa); err != nil {
		t.Fatal(err)
	}
	sb.Serial++
	sb.Users["y"] = sync.Link{TargetID: "ty"}
	if err := b.Save(ctx, sb); !errors.Is(err, sync.ErrStaleState) {
		t.Fatalf("the second replica's save = %v, want ErrStaleState", err)
	}
	// b records a link, then saves from a fresh load: a's next save from
	// its old knowledge is stale, and after reloading it sees b's work.
	if err := b.Record(ctx, sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: "z", Link: &sync.Link{TargetID: "tz"}}); err != nil {
		t.Fatal(err)
	}
	sb, err = b.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sb.Serial++
	delete(sb.Users, "x")
	if err := b.Save(ctx, sb); err != nil {
		t.Fatal(err)
	}
	sa.Serial++
	if err := a.Save(ctx, sa); !errors.Is(err, sync.ErrStaleState) {
		t.Fatalf("a save from an old serial = %v, want ErrStaleState", err)
	}
	sa, err = a.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.Users) != 1 || sa.Users["z"].TargetID != "tz" || sa.Serial != 2 {
		t.Fatalf("a loads %+v; want only z at serial 2", sa)
	}
	// a writes after another writer changed rows it knew: the result is
	// exactly its snapshot.
	if err := b.Record(ctx, sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: "w", Link: &sync.Link{TargetID: "tw"}}); err != nil {
		t.Fatal(err)
	}
	sa.Serial++
	sa.Users["v"] = sync.Link{TargetID: "tv"}
	if err := a.Save(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if serial, ids := userIDs(t, b); serial != 3 || len(ids) != 2 {
		t.Fatalf("after a's save b loads serial %d, users %v; want 3, [v z]", serial, ids)
	}
}

// TestCrashMidSave: the connection of a save dies inside its transaction,
// after every row was written: the previous state is read back whole,
// and the next save (from the same serial) goes through.
func TestCrashMidSave(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	st := open(t, pool, "acme")
	if err := saveUsers(t, st, 1, "a", "b"); err != nil {
		t.Fatal(err)
	}
	killer, err := pgx.Connect(ctx, pool.Config().ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(ctx)
	st.beforeCommit = func(ctx context.Context, tx pgx.Tx) error {
		pid := tx.Conn().PgConn().PID()
		var ok bool
		if err := killer.QueryRow(ctx, "SELECT pg_terminate_backend($1, 60000)", pid).Scan(&ok); err != nil || !ok {
			t.Errorf("terminate backend %d: %v, %v", pid, ok, err)
		}
		return nil
	}
	if err := saveUsers(t, st, 2, "c", "d", "e"); err == nil {
		t.Fatal("a save whose connection died before its commit succeeded")
	}
	st.beforeCommit = nil
	other := open(t, pool, "acme", WithoutLeaderLock()) // a tool reads it
	if serial, ids := userIDs(t, other); serial != 1 || len(ids) != 2 {
		t.Fatalf("after the crash the state is serial %d, users %v; want serial 1, [a b]", serial, ids)
	}
	if err := saveUsers(t, st, 2, "c"); err != nil {
		t.Fatalf("save after the crash: %v", err)
	}
	if serial, ids := userIDs(t, other); serial != 2 || len(ids) != 1 || ids[0] != "c" {
		t.Fatalf("state is serial %d, users %v; want serial 2, [c]", serial, ids)
	}
}

// TestTargetsShareADatabase: two targets' states in one database do not
// see or overwrite each other's rows, serials or records.
func TestTargetsShareADatabase(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	a, b := open(t, pool, "tenant-a"), open(t, pool, "tenant-b")
	if err := saveUsers(t, a, 1, "a1", "a2"); err != nil {
		t.Fatal(err)
	}
	if err := saveUsers(t, b, 1, "b1"); err != nil {
		t.Fatalf("first save of b after a's = %v", err)
	}
	if err := b.Record(ctx, sync.Record{Op: sync.OpUnlink, Kind: sync.KindUser, SourceID: "a1"}); err != nil {
		t.Fatal(err)
	}
	if serial, ids := userIDs(t, a); serial != 1 || len(ids) != 2 {
		t.Fatalf("a = serial %d, %v; want serial 1, [a1 a2]", serial, ids)
	}
	if serial, ids := userIDs(t, b); serial != 1 || len(ids) != 1 || ids[0] != "b1" {
		t.Fatalf("b = serial %d, %v; want serial 1, [b1]", serial, ids)
	}
	if err := saveUsers(t, b, 2); err != nil {
		t.Fatal(err)
	}
	if _, ids := userIDs(t, a); len(ids) != 2 {
		t.Fatalf("emptying b changed a: %v", ids)
	}
	// A snapshot of another target is refused.
	s, _ := a.Load(ctx)
	s.Serial++
	s.Target = "tenant-b"
	if err := a.Save(ctx, s); !errors.Is(err, sync.ErrStateCorrupt) {
		t.Fatalf("saving tenant-b's snapshot into tenant-a = %v, want ErrStateCorrupt", err)
	}
}

// TestMigrate: migrating twice changes nothing; a database migrated by a
// newer provsync is refused, and so is a row of an unknown version.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	st := open(t, pool, "acme")
	if err := saveUsers(t, st, 1, "a"); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, pool); err != nil {
		t.Fatalf("second migration: %v", err)
	}
	var versions int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM provsync_schema_version").Scan(&versions); err != nil || versions != SchemaVersion() {
		t.Fatalf("%d schema versions recorded (%v); want %d", versions, err, SchemaVersion())
	}
	if _, ids := userIDs(t, st); len(ids) != 1 {
		t.Fatalf("migrating again lost links: %v", ids)
	}
	if _, err := pool.Exec(ctx, "UPDATE provsync_state SET version = 9"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Load(ctx); !errors.Is(err, sync.ErrStateCorrupt) {
		t.Errorf("Load of a version 9 row = %v, want ErrStateCorrupt", err)
	}
	if err := saveUsers(t, st, 2); !errors.Is(err, sync.ErrStateCorrupt) {
		t.Errorf("Save over a version 9 row = %v, want ErrStateCorrupt", err)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO provsync_schema_version (version) VALUES (999)"); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, pool, "acme"); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open of a newer schema = %v, want ErrSchemaTooNew", err)
	}
}

// TestBadRecordIsRefused: a record the engine could not have made writes
// nothing.
func TestBadRecordIsRefused(t *testing.T) {
	ctx := context.Background()
	st := open(t, newPool(t), "acme")
	err := st.Record(ctx,
		sync.Record{Op: sync.OpLink, Kind: sync.KindUser, SourceID: "ok", Link: &sync.Link{TargetID: "t"}},
		sync.Record{Op: sync.OpLink, Kind: "robot", SourceID: "r", Link: &sync.Link{}})
	if !errors.Is(err, sync.ErrStateCorrupt) {
		t.Fatalf("Record of an unknown kind = %v, want ErrStateCorrupt", err)
	}
	if _, ids := userIDs(t, st); len(ids) != 0 {
		t.Fatalf("a refused batch wrote %v", ids)
	}
}

type static struct{ dir *source.Directory }

func (s static) Name() string { return "static" }
func (s static) Read(context.Context) (*source.Directory, error) {
	return s.dir.Clone(), nil
}

// TestEngineEndToEnd: the engine syncs a directory into the embedded
// Netskope server with its state in PostgreSQL; a new engine and State
// (another process) then plans nothing.
func TestEngineEndToEnd(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	srv, client := newServer(t)
	dir := synth.Generate(synth.Config{Users: 60, Groups: 5, MembershipsPerUser: 2, Seed: 3})
	first := open(t, pool, "acme")
	eng, err := sync.New(static{dir}, client, sync.WithState(first), sync.WithTargetName("acme"))
	if err != nil {
		t.Fatal(err)
	}
	p, res, err := eng.Sync(ctx)
	if err != nil {
		t.Fatalf("sync: %v (%+v)", err, res)
	}
	if p.Empty() || srv.UserCount() != len(dir.Users) || srv.GroupCount() != len(dir.Groups) {
		t.Fatalf("after the first sync the server holds %d users, %d groups; want %d, %d",
			srv.UserCount(), srv.GroupCount(), len(dir.Users), len(dir.Groups))
	}
	var links int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM provsync_links WHERE target = 'acme'").Scan(&links); err != nil ||
		links != len(dir.Users)+len(dir.Groups) {
		t.Fatalf("%d links stored (%v); want %d", links, err, len(dir.Users)+len(dir.Groups))
	}
	first.Close(ctx) // the first process ends; another starts
	again, err := sync.New(static{dir}, client, sync.WithState(open(t, pool, "acme")), sync.WithTargetName("acme"))
	if err != nil {
		t.Fatal(err)
	}
	p, err = again.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Fatalf("re-plan from the stored state has %d changes, e.g. %+v", len(p.Changes), p.Changes[0])
	}
}

// TestSaveWritesOnlyWhatChanged: a save after a load rewrites only the
// rows that changed (PostgreSQL gives a rewritten row a new xmin), and a
// save after another writer's record rewrites them all, since this
// State's knowledge of the rows is out of date.
func TestSaveWritesOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	st := open(t, pool, "acme", WithoutLeaderLock())
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = "u" + string(rune('A'+i/26)) + string(rune('a'+i%26))
	}
	if err := saveUsers(t, st, 1, ids...); err != nil {
		t.Fatal(err)
	}
	xmins := func() map[string]string {
		rows, _ := pool.Query(ctx, "SELECT source_id, xmin::text FROM provsync_links WHERE target = 'acme'")
		out := map[string]string{}
		var id, x string
		if _, err := pgx.ForEachRow(rows, []any{&id, &x}, func() error { out[id] = x; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	changed := func(before, after map[string]string) (n int) {
		for id, x := range after {
			if before[id] != x {
				n++
			}
		}
		return n + len(before) - len(after)
	}
	before := xmins()
	s, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Serial++
	s.Users[ids[7]] = sync.Link{TargetID: "moved", Origin: sync.OriginAdopted}
	delete(s.Users, ids[8])
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	after := xmins()
	if n := changed(before, after); n != 2 || len(after) != len(ids)-1 {
		t.Fatalf("a save changing one link and removing one rewrote %d rows (%d left); want 2", n, len(after))
	}
	other := open(t, pool, "acme", WithoutLeaderLock())
	if err := other.Record(ctx, sync.Record{Op: sync.OpUnlink, Kind: sync.KindUser, SourceID: ids[9]}); err != nil {
		t.Fatal(err)
	}
	s.Serial++
	if err := st.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if serial, got := userIDs(t, other); serial != 3 || len(got) != len(ids)-1 {
		t.Fatalf("after a save over another writer's record: serial %d, %d users; want 3, %d", serial, len(got), len(ids)-1)
	}
}
