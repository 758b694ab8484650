// Package pgstate is a sync.State kept in PostgreSQL, through pgx: one
// database holds the states of many targets, every row keyed by the
// target's name.
//
// The schema (migrations/*.sql, embedded, applied by Migrate and Open and
// recorded in provsync_schema_version) has a row per target in
// provsync_state (its serial and a generation), and a table per part of
// the snapshot: provsync_links, provsync_intents, provsync_cursors,
// provsync_directories, provsync_approvals, provsync_escrow and
// provsync_conflicts.
//
//   - Save runs in one transaction: it locks the target's provsync_state
//     row, compares the stored serial with the snapshot's (ErrStaleState
//     unless the snapshot carries the stored serial plus one), writes and
//     commits. A crash or a lost connection before the commit leaves the
//     previous state as it was. Save writes only the rows that differ
//     from what this State last loaded or saved, as long as no other
//     writer bumped the generation since; otherwise it rewrites the
//     target's rows.
//   - Record writes its records (links made and removed, creates about to
//     be sent) in one transaction and returns after the commit. It does
//     not change the serial: the next Save replaces the records' effects,
//     as the State contract says.
//   - Load reads the target's rows in one repeatable-read transaction.
//
// Leader lock: several replicas may point at one database; one State
// per target leads. From its first Load, Save or Record until Close, a
// State holds a session-level advisory lock (pg_try_advisory_lock on a
// hash of the target's name) on a connection of its own, outside the
// pool; the others get sync.ErrLocked, as a second FileState does, and
// stand by. Every Save and Record checks, inside its transaction, that
// the lock's session still holds the lock, and the engine asks
// CheckLeader (sync.Leader) before each write request it sends to the
// target: a leader whose connection was lost (or whose backend was
// terminated) sends and writes nothing more and gets ErrLocked, and takes
// the lock again only through a Load, the start of a new cycle.
// WithoutLeaderLock turns the lock off.
//
// The State keeps a copy of the links it last loaded or saved, to write
// only differences: memory of the order of the state's size.
//
// Log is the provisioning log of sync/provlog kept in the same database
// (table provsync_log, keyed by target): the replicas of a target write
// and read one history.
package pgstate

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	gosync "sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/provsync/provsync/sync"
)

// snapshotVersion is the sync.Snapshot format version this package
// stores (the file state's version 1).
const snapshotVersion = 1

// State is a sync.State in PostgreSQL for one target.
type State struct {
	pool   *pgxpool.Pool
	target string
	log    *zap.Logger

	noLock bool

	mu       gosync.Mutex
	base     *base     // what the database holds, as of generation base.gen
	lockConn *pgx.Conn // holds the leader lock
	lost     bool      // the lock was lost; only Load takes it again

	// beforeCommit, when set (tests), runs inside Save's transaction
	// just before the commit.
	beforeCommit func(ctx context.Context, tx pgx.Tx) error
}

var (
	_ sync.State  = (*State)(nil)
	_ sync.Leader = (*State)(nil)
)

// Option configures a State.
type Option func(*State)

// WithLogger sets the logger (no-op by default).
func WithLogger(l *zap.Logger) Option { return func(s *State) { s.log = l } }

// Open migrates the database (Migrate) and returns the state of the
// target named target: use the name given to the engine's
// sync.WithTargetName. The pool stays the caller's to close; Close the
// State to release its leader lock.
func Open(ctx context.Context, pool *pgxpool.Pool, target string, opts ...Option) (*State, error) {
	if target == "" {
		return nil, errors.New("pgstate: open: the target name is empty")
	}
	if err := Migrate(ctx, pool); err != nil {
		return nil, err
	}
	s := &State{pool: pool, target: target, log: zap.NewNop()}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// base is what the database holds for the target, as of a generation.
type base struct {
	gen    int64
	users  map[string]sync.Link
	groups map[string]sync.Link
	intent map[string]sync.Intent
	docs   [len(docTables)]map[string][sha256.Size]byte
}

// docTable is a table of (target, key, value) rows holding one map of
// the snapshot, each value a string (JSON but for cursors).
type docTable struct{ table, key, value string }

var docTables = [...]docTable{
	{"provsync_cursors", "source", "cursor"},
	{"provsync_directories", "source", "doc"},
	{"provsync_approvals", "id", "doc"},
	{"provsync_escrow", "key", "doc"},
	{"provsync_conflicts", "key", "doc"},
}

// docsOf returns the snapshot's maps stored in docTables, by table.
func docsOf(s *sync.Snapshot) ([len(docTables)]map[string]string, error) {
	var out [len(docTables)]map[string]string
	out[0] = make(map[string]string, len(s.Cursors))
	for k, v := range s.Cursors {
		out[0][k] = v
	}
	var err error
	if out[1], err = marshalEach(s.Directories); err != nil {
		return out, fmt.Errorf("directory: %w", err)
	}
	if out[2], err = marshalEach(s.Approvals); err != nil {
		return out, fmt.Errorf("approval: %w", err)
	}
	if out[3], err = marshalEach(s.Escrow); err != nil {
		return out, fmt.Errorf("escrow: %w", err)
	}
	if out[4], err = marshalEach(s.Conflicts); err != nil {
		return out, fmt.Errorf("conflict: %w", err)
	}
	return out, nil
}

func marshalEach[V any](m map[string]V) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = string(b)
	}
	return out, nil
}

// setDoc stores a docTables row into s.
func setDoc(s *sync.Snapshot, table int, key, value string) error {
	switch table {
	case 0:
		s.Cursors[key] = value
		return nil
	case 1:
		return putDoc(&s.Directories, key, value)
	case 2:
		return putDoc(&s.Approvals, key, value)
	case 3:
		return putDoc(&s.Escrow, key, value)
	default:
		return putDoc(&s.Conflicts, key, value)
	}
}

// putDoc decodes value into (*m)[key], making the map if need be.
func putDoc[V any](m *map[string]V, key, value string) error {
	var v V
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		return err
	}
	if *m == nil {
		*m = map[string]V{}
	}
	(*m)[key] = v
	return nil
}

func hashes(m map[string]string) map[string][sha256.Size]byte {
	out := make(map[string][sha256.Size]byte, len(m))
	for k, v := range m {
		out[k] = sha256.Sum256([]byte(v))
	}
	return out
}

// Load reads the target's state; an empty snapshot if none was saved.
func (s *State) Load(ctx context.Context) (*sync.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.acquire(ctx, true); err != nil {
		return nil, fmt.Errorf("pgstate: load state of target %q: %w", s.target, err)
	}
	snap := sync.NewSnapshot()
	b := &base{}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		exists, err := s.head(ctx, tx, "", &snap.Serial, &b.gen)
		if err != nil {
			return err
		}
		if err := loadDrift(ctx, tx, s.target, snap); err != nil {
			return err
		}
		if exists {
			snap.Target = s.target
		}
		if err := loadLinks(ctx, tx, s.target, snap); err != nil {
			return err
		}
		if err := loadIntents(ctx, tx, s.target, snap); err != nil {
			return err
		}
		for i, t := range docTables {
			rows, _ := tx.Query(ctx, fmt.Sprintf("SELECT %s, %s::text FROM %s WHERE target = $1", t.key, t.value, t.table), s.target)
			var key, value string
			hs := map[string][sha256.Size]byte{}
			_, err := pgx.ForEachRow(rows, []any{&key, &value}, func() error {
				if err := setDoc(snap, i, key, value); err != nil {
					return fmt.Errorf("%w: %s %q: %w", sync.ErrStateCorrupt, t.table, key, err)
				}
				hs[key] = sha256.Sum256([]byte(value))
				return nil
			})
			if err != nil {
				return err
			}
			b.docs[i] = hs
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pgstate: load state of target %q: %w", s.target, err)
	}
	snap.Version = snapshotVersion
	b.users, b.groups, b.intent = cloneMap(snap.Users), cloneMap(snap.Groups), cloneMap(snap.Intents)
	s.base = b
	return snap, nil
}

// head reads the target's provsync_state row (with suffix, such as
// " FOR UPDATE") into serial and gen; a missing row is serial and
// generation 0.
func (s *State) head(ctx context.Context, tx pgx.Tx, suffix string, serial, gen *int64) (bool, error) {
	var version int
	err := tx.QueryRow(ctx, "SELECT version, serial, generation FROM provsync_state WHERE target = $1"+suffix, s.target).
		Scan(&version, serial, gen)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	case version != snapshotVersion:
		return false, fmt.Errorf("%w: target %q has version %d; this engine reads version %d", sync.ErrStateCorrupt, s.target, version, snapshotVersion)
	}
	return true, nil
}

func cloneMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// loadDrift reads the last drift check's time and the target groups it
// listed.
func loadDrift(ctx context.Context, tx pgx.Tx, target string, snap *sync.Snapshot) error {
	var at *time.Time
	var groups []byte
	err := tx.QueryRow(ctx, "SELECT drift_checked_at, target_groups::text FROM provsync_state WHERE target = $1", target).Scan(&at, &groups)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil
	case err != nil:
		return err
	}
	if at != nil {
		snap.LastDriftCheck = *at
	}
	if len(groups) > 0 {
		if err := json.Unmarshal(groups, &snap.TargetGroups); err != nil {
			return fmt.Errorf("%w: target groups: %w", sync.ErrStateCorrupt, err)
		}
	}
	return nil
}

func loadLinks(ctx context.Context, tx pgx.Tx, target string, snap *sync.Snapshot) error {
	rows, _ := tx.Query(ctx, `SELECT kind, source_id, target_id, origin, since, deactivated_at, source, mirror::text
FROM provsync_links WHERE target = $1`, target)
	var kind, src, tid, origin, owner string
	var since time.Time
	var deact *time.Time
	var mirror []byte
	_, err := pgx.ForEachRow(rows, []any{&kind, &src, &tid, &origin, &since, &deact, &owner, &mirror}, func() error {
		l := sync.Link{TargetID: tid, Origin: sync.Origin(origin), Since: since, Source: owner}
		if deact != nil {
			l.DeactivatedAt = *deact
		}
		if len(mirror) > 0 {
			l.Mirror = &sync.Mirror{}
			if err := json.Unmarshal(mirror, l.Mirror); err != nil {
				return fmt.Errorf("%w: mirror of %s %q: %w", sync.ErrStateCorrupt, kind, src, err)
			}
		}
		switch sync.Kind(kind) {
		case sync.KindUser:
			snap.Users[src] = l
		case sync.KindGroup:
			snap.Groups[src] = l
		default:
			return fmt.Errorf("%w: link of unknown kind %q", sync.ErrStateCorrupt, kind)
		}
		return nil
	})
	return err
}

func loadIntents(ctx context.Context, tx pgx.Tx, target string, snap *sync.Snapshot) error {
	rows, _ := tx.Query(ctx, `SELECT kind, source_id, key, external_id, since, source
FROM provsync_intents WHERE target = $1`, target)
	var in sync.Intent
	var kind string
	_, err := pgx.ForEachRow(rows, []any{&kind, &in.SourceID, &in.Key, &in.ExternalID, &in.Since, &in.Source}, func() error {
		in.Kind = sync.Kind(kind)
		if snap.Intents == nil {
			snap.Intents = map[string]sync.Intent{}
		}
		snap.Intents[kind+":"+in.SourceID] = in
		return nil
	})
	return err
}

// sameTime compares times as PostgreSQL stores them (microseconds).
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}

func sameLink(a, b sync.Link) bool {
	return a.TargetID == b.TargetID && a.Origin == b.Origin && a.Source == b.Source &&
		sameTime(a.Since, b.Since) && sameTime(a.DeactivatedAt, b.DeactivatedAt) && a.Mirror.Equal(b.Mirror)
}

func sameIntent(a, b sync.Intent) bool {
	return a.Kind == b.Kind && a.SourceID == b.SourceID && a.Key == b.Key && a.ExternalID == b.ExternalID && a.Source == b.Source && sameTime(a.Since, b.Since)
}

const (
	upsertLink = `INSERT INTO provsync_links (target, kind, source_id, target_id, origin, since, deactivated_at, source, mirror)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (target, kind, source_id) DO UPDATE SET target_id = excluded.target_id,
	origin = excluded.origin, since = excluded.since, deactivated_at = excluded.deactivated_at,
	source = excluded.source, mirror = excluded.mirror`
	setMirror    = `UPDATE provsync_links SET mirror = $4 WHERE target = $1 AND kind = $2 AND source_id = $3`
	deleteLink   = `DELETE FROM provsync_links WHERE target = $1 AND kind = $2 AND source_id = $3`
	upsertIntent = `INSERT INTO provsync_intents (target, kind, source_id, key, external_id, since, source)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (target, kind, source_id) DO UPDATE SET key = excluded.key,
	external_id = excluded.external_id, since = excluded.since, source = excluded.source`
	deleteIntent = `DELETE FROM provsync_intents WHERE target = $1 AND kind = $2 AND source_id = $3`
)

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (s *State) queueLink(b *pgx.Batch, kind sync.Kind, src string, l sync.Link) {
	b.Queue(upsertLink, s.target, string(kind), src, l.TargetID, string(l.Origin), l.Since, nullTime(l.DeactivatedAt), l.Source, mirrorJSON(l.Mirror))
}

// mirrorJSON is a mirror as stored: JSON text, or NULL for none.
func mirrorJSON(m *sync.Mirror) *string {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil // stored as unknown: the engine reads the object again
	}
	j := string(b)
	return &j
}

func (s *State) queueIntent(b *pgx.Batch, in sync.Intent) {
	b.Queue(upsertIntent, s.target, string(in.Kind), in.SourceID, in.Key, in.ExternalID, in.Since, in.Source)
}

// Save stores snap in one transaction if snap.Serial is the stored serial
// plus one (else sync.ErrStaleState).
func (s *State) Save(ctx context.Context, snap *sync.Snapshot) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if snap.Target != "" && snap.Target != s.target {
		return fmt.Errorf("pgstate: save state of target %q: %w: the snapshot holds the links of target %q", s.target, sync.ErrStateCorrupt, snap.Target)
	}
	docs, err := docsOf(snap)
	if err != nil {
		return fmt.Errorf("pgstate: save state of target %q: %w", s.target, err)
	}
	var groupsJSON *string
	if len(snap.TargetGroups) > 0 {
		b, err := json.Marshal(snap.TargetGroups)
		if err != nil {
			return fmt.Errorf("pgstate: save state of target %q: target groups: %w", s.target, err)
		}
		j := string(b)
		groupsJSON = &j
	}
	if err := s.acquire(ctx, false); err != nil {
		return fmt.Errorf("pgstate: save state of target %q: %w", s.target, err)
	}
	var gen int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.checkLock(ctx, tx); err != nil {
			return err
		}
		var serial int64
		if _, err := s.head(ctx, tx, " FOR UPDATE", &serial, &gen); err != nil {
			return err
		}
		if snap.Serial != serial+1 {
			return fmt.Errorf("%w: saving serial %d over serial %d", sync.ErrStaleState, snap.Serial, serial)
		}
		old := s.base
		if old == nil || old.gen != gen {
			// Another writer, or a failed write, since this State last
			// knew the rows: rewrite them all.
			for _, t := range append([]string{"provsync_links", "provsync_intents"}, docTableNames()...) {
				if _, err := tx.Exec(ctx, "DELETE FROM "+t+" WHERE target = $1", s.target); err != nil {
					return err
				}
			}
			if err := s.copyLinks(ctx, tx, snap); err != nil {
				return err
			}
			old = &base{users: snap.Users, groups: snap.Groups} // written
		}
		b := &pgx.Batch{}
		s.queueLinkDiff(b, sync.KindUser, old.users, snap.Users)
		s.queueLinkDiff(b, sync.KindGroup, old.groups, snap.Groups)
		for k, in := range snap.Intents {
			if o, ok := old.intent[k]; !ok || !sameIntent(o, in) {
				s.queueIntent(b, in)
			}
		}
		for k, in := range old.intent {
			if _, ok := snap.Intents[k]; !ok {
				b.Queue(deleteIntent, s.target, string(in.Kind), in.SourceID)
			}
		}
		for i, t := range docTables {
			for k, v := range docs[i] {
				if h, ok := old.docs[i][k]; !ok || h != sha256.Sum256([]byte(v)) {
					b.Queue(fmt.Sprintf(`INSERT INTO %[1]s (target, %[2]s, %[3]s) VALUES ($1, $2, $3)
ON CONFLICT (target, %[2]s) DO UPDATE SET %[3]s = excluded.%[3]s`, t.table, t.key, t.value), s.target, k, v)
				}
			}
			for k := range old.docs[i] {
				if _, ok := docs[i][k]; !ok {
					b.Queue(fmt.Sprintf("DELETE FROM %s WHERE target = $1 AND %s = $2", t.table, t.key), s.target, k)
				}
			}
		}
		b.Queue(`INSERT INTO provsync_state (target, version, serial, generation, drift_checked_at, target_groups)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (target) DO UPDATE SET version = excluded.version, serial = excluded.serial,
	generation = excluded.generation, updated_at = now(),
	drift_checked_at = excluded.drift_checked_at, target_groups = excluded.target_groups`,
			s.target, snapshotVersion, snap.Serial, gen+1, nullTime(snap.LastDriftCheck), groupsJSON)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if s.beforeCommit != nil {
			return s.beforeCommit(ctx, tx)
		}
		return nil
	})
	if err != nil {
		if !errors.Is(err, sync.ErrStaleState) {
			s.base = nil // the rows are unknown until the next Load
		}
		return fmt.Errorf("pgstate: save state of target %q: %w", s.target, err)
	}
	snap.Version = snapshotVersion
	s.base = &base{gen: gen + 1, users: cloneMap(snap.Users), groups: cloneMap(snap.Groups), intent: cloneMap(snap.Intents)}
	for i := range docTables {
		s.base.docs[i] = hashes(docs[i])
	}
	return nil
}

func docTableNames() []string {
	out := make([]string, len(docTables))
	for i, t := range docTables {
		out[i] = t.table
	}
	return out
}

// copyLinks writes every link of snap with COPY, into a target that has
// none.
func (s *State) copyLinks(ctx context.Context, tx pgx.Tx, snap *sync.Snapshot) error {
	rows := make([][]any, 0, len(snap.Users)+len(snap.Groups))
	for kind, links := range map[sync.Kind]map[string]sync.Link{sync.KindUser: snap.Users, sync.KindGroup: snap.Groups} {
		for src, l := range links {
			rows = append(rows, []any{s.target, string(kind), src, l.TargetID, string(l.Origin), l.Since, nullTime(l.DeactivatedAt), l.Source, mirrorJSON(l.Mirror)})
		}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"provsync_links"},
		[]string{"target", "kind", "source_id", "target_id", "origin", "since", "deactivated_at", "source", "mirror"}, pgx.CopyFromRows(rows))
	return err
}

func (s *State) queueLinkDiff(b *pgx.Batch, kind sync.Kind, old, cur map[string]sync.Link) {
	for k, l := range cur {
		if o, ok := old[k]; !ok || !sameLink(o, l) {
			s.queueLink(b, kind, k, l)
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok {
			b.Queue(deleteLink, s.target, string(kind), k)
		}
	}
}

// Record writes recs in one transaction and returns after its commit.
func (s *State) Record(ctx context.Context, recs ...sync.Record) error {
	if len(recs) == 0 {
		return nil
	}
	check := sync.NewSnapshot()
	b := &pgx.Batch{}
	for _, r := range recs {
		if err := check.Apply(r); err != nil { // the same checks as every State's
			return fmt.Errorf("pgstate: record state of target %q: %w", s.target, err)
		}
		switch r.Op {
		case sync.OpLink:
			s.queueLink(b, r.Kind, r.SourceID, *r.Link)
			b.Queue(deleteIntent, s.target, string(r.Kind), r.SourceID)
		case sync.OpUnlink:
			b.Queue(deleteLink, s.target, string(r.Kind), r.SourceID)
			b.Queue(deleteIntent, s.target, string(r.Kind), r.SourceID)
		case sync.OpIntent:
			in := *r.Intent
			in.Kind, in.SourceID = r.Kind, r.SourceID // the row's key
			s.queueIntent(b, in)
		case sync.OpSettle:
			b.Queue(deleteIntent, s.target, string(r.Kind), r.SourceID)
		case sync.OpMirror:
			b.Queue(setMirror, s.target, string(r.Kind), r.SourceID, mirrorJSON(r.Mirror))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.acquire(ctx, false); err != nil {
		return fmt.Errorf("pgstate: record state of target %q: %w", s.target, err)
	}
	var gen int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.checkLock(ctx, tx); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `INSERT INTO provsync_state (target, version, serial, generation) VALUES ($1, $2, 0, 1)
ON CONFLICT (target) DO UPDATE SET generation = provsync_state.generation + 1, updated_at = now()
RETURNING generation`, s.target, snapshotVersion).Scan(&gen); err != nil {
			return err
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		s.base = nil
		return fmt.Errorf("pgstate: record state of target %q: %w", s.target, err)
	}
	if s.base == nil || s.base.gen != gen-1 {
		s.base = nil // another writer came between
		return nil
	}
	s.base.gen = gen
	onBase := &sync.Snapshot{Users: s.base.users, Groups: s.base.groups, Intents: s.base.intent}
	for _, r := range recs {
		_ = onBase.Apply(r) // checked above
	}
	s.base.intent = onBase.Intents
	return nil
}
