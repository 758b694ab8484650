package pgstate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/provsync/provsync/sync"
)

// WithoutLeaderLock makes the State take no leader lock: for tools that
// only read a state, or several writers that coordinate otherwise (Save's
// compare-and-swap still refuses stale snapshots).
func WithoutLeaderLock() Option { return func(s *State) { s.noLock = true } }

// lockKey is the advisory lock key of a target: the FNV-1a hash of
// "provsync/" and its name.
func lockKey(target string) int64 {
	h := fnv.New64a()
	h.Write([]byte("provsync/" + target))
	return int64(h.Sum64())
}

// acquire makes this State the target's leader if it is not: it opens a
// connection of its own (outside the pool) and takes a session-level
// advisory lock on it, ErrLocked if another holds it. After the lock was
// lost, only Load (the start of a new cycle) takes it again. The caller
// holds s.mu.
func (s *State) acquire(ctx context.Context, load bool) error {
	if s.noLock || s.lockConn != nil {
		return nil
	}
	if s.lost && !load {
		return fmt.Errorf("%w: this process lost the leader lock of target %q; load the state again", sync.ErrLocked, s.target)
	}
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return fmt.Errorf("leader lock: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockKey(s.target)).Scan(&ok); err != nil {
		conn.Close(ctx)
		return fmt.Errorf("leader lock: %w", err)
	}
	if !ok {
		conn.Close(ctx)
		return fmt.Errorf("%w: another process leads target %q", sync.ErrLocked, s.target)
	}
	s.lockConn, s.lost, s.base = conn, false, nil
	s.log.Info("leader lock taken")
	return nil
}

// errLostLock: the lock's session ended (the connection was lost or its
// backend terminated), so another process may lead.
var errLostLock = errors.New("lost the leader lock")

// checkLock verifies, inside tx, that the lock's session still holds the
// lock; otherwise it drops the lock connection and returns ErrLocked, so
// that nothing more is written until a new Load takes the lock again.
// The caller holds s.mu.
func (s *State) checkLock(ctx context.Context, tx pgx.Tx) error {
	if s.noLock {
		return nil
	}
	held, err := s.lockHeld(ctx, tx)
	if err != nil {
		return err
	}
	if !held {
		return s.lose(ctx, nil)
	}
	return nil
}

// lose drops the lock connection and marks the lock lost, so that nothing
// more is written until a new Load takes the lock again; it returns the
// ErrLocked error to report, with cause if there is one. The caller holds
// s.mu.
func (s *State) lose(ctx context.Context, cause error) error {
	s.dropLock(ctx)
	s.lost = true
	s.log.Warn("leader lock lost", zap.NamedError("cause", cause))
	if cause != nil {
		return fmt.Errorf("%w: %w of target %q: %w", sync.ErrLocked, errLostLock, s.target, cause)
	}
	return fmt.Errorf("%w: %w of target %q", sync.ErrLocked, errLostLock, s.target)
}

// leaderCheckTimeout bounds CheckLeader's round trip: a lock connection
// that does not answer in time (a network that dropped it silently) is
// taken as lost.
const leaderCheckTimeout = 10 * time.Second

// CheckLeader tells whether this State still holds its target's leader
// lock (sync.Leader): the engine calls it before each write request of an
// apply. It asks on the lock's own connection whether that session holds
// the lock: one round trip of a small query under the State's mutex
// (about 0.5 ms against a local server on a busy 2-core machine;
// BenchmarkCheckLeader). At a tenant's pace of 4 to 20 write requests a
// second that is 4 to 20 such queries a second. If the session ended (its connection lost, its backend
// terminated), does not answer within 10 seconds, or no longer holds the
// lock, the lock is taken as lost: CheckLeader, Save and Record return
// ErrLocked until a Load takes the lock again.
func (s *State) CheckLeader(ctx context.Context) error {
	if s.noLock {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pgstate: check the leader lock of target %q: %w", s.target, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.acquire(ctx, false); err != nil {
		return fmt.Errorf("pgstate: check the leader lock of target %q: %w", s.target, err)
	}
	qctx, cancel := context.WithTimeout(ctx, leaderCheckTimeout)
	defer cancel()
	held, err := s.lockHeld(qctx, s.lockConn)
	switch {
	case err != nil:
		return fmt.Errorf("pgstate: check the leader lock: %w", s.lose(qctx, err))
	case !held:
		return fmt.Errorf("pgstate: check the leader lock: %w", s.lose(qctx, nil))
	}
	return nil
}

// lockHeld asks the database whether the lock's session holds the lock.
// The caller holds s.mu and the lock connection is open.
func (s *State) lockHeld(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (bool, error) {
	key := uint64(lockKey(s.target))
	var held bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
	AND pid = $1 AND classid::bigint = $2 AND objid::bigint = $3 AND objsubid = 1)`,
		s.lockConn.PgConn().PID(), int64(key>>32), int64(key&0xffffffff)).Scan(&held)
	return held, err
}

func (s *State) dropLock(ctx context.Context) {
	if s.lockConn != nil {
		// Unlock first: a closed connection's backend releases its locks
		// only once it notices the close, so another State could still
		// find the lock held right after Close. On a connection that is
		// already gone this fails, and there is nothing to release.
		_, _ = s.lockConn.Exec(ctx, "SELECT pg_advisory_unlock($1)", lockKey(s.target))
		_ = s.lockConn.Close(ctx)
		s.lockConn = nil
	}
}

// Close releases the leader lock (closing its connection). The State can
// be used again afterwards; it then takes the lock again.
func (s *State) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropLock(ctx)
	s.lost = false
	return nil
}

// Leader reports whether this State holds its target's leader lock, as
// far as it knows (the next write checks it with the database).
func (s *State) Leader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.noLock && s.lockConn != nil
}
