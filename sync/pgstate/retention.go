package pgstate

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Pruned is what one Prune did.
type Pruned struct {
	// Claimed is false when another replica (or this one) pruned the
	// target's log within the pruning interval: nothing was deleted.
	Claimed bool
	// Deleted counts the rows deleted, Batches the delete statements
	// run (each of at most the prune batch).
	Deleted int64
	Batches int
}

// Prune deletes the target's events older than the retention, then the
// oldest past the row limit, in statements of at most the prune batch
// rows each, so that no statement holds many row locks for long. It first
// claims the pruning in table provsync_log_prune: if any replica pruned
// within the pruning interval it does nothing. Replicas that prune at
// once take disjoint rows (SKIP LOCKED). What ctx's deadline leaves is
// deleted by the next pruning.
func (l *Log) Prune(ctx context.Context) (Pruned, error) {
	var p Pruned
	now := l.now()
	err := l.pool.QueryRow(ctx, `INSERT INTO provsync_log_prune AS p (target, pruned_at) VALUES ($1, $2)
ON CONFLICT (target) DO UPDATE SET pruned_at = excluded.pruned_at WHERE p.pruned_at <= $3
RETURNING true`, l.target, now, now.Add(-l.pruneEvery)).Scan(&p.Claimed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return p, nil
	case err != nil:
		return p, fmt.Errorf("pgstate: prune the provisioning log of %s: claim: %w", l.target, err)
	}
	if l.keep > 0 {
		if err := l.deleteBatches(ctx, &p, "at < $2", now.Add(-l.keep)); err != nil {
			return p, fmt.Errorf("pgstate: prune the provisioning log of %s: older than %v: %w", l.target, l.keep, err)
		}
	}
	if l.maxRows > 0 {
		var last int64
		err := l.pool.QueryRow(ctx, "SELECT id FROM provsync_log WHERE target = $1 ORDER BY id DESC OFFSET $2 LIMIT 1",
			l.target, l.maxRows).Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
			return p, nil
		}
		if err == nil {
			err = l.deleteBatches(ctx, &p, "id <= $2", last)
		}
		if err != nil {
			return p, fmt.Errorf("pgstate: prune the provisioning log of %s: past %d rows: %w", l.target, l.maxRows, err)
		}
	}
	return p, nil
}

// deleteBatches deletes the target's rows where cond (on $2 = arg) holds,
// a batch per statement, until a statement deletes less than a batch.
func (l *Log) deleteBatches(ctx context.Context, p *Pruned, cond string, arg any) error {
	// The batch is materialised once: a subquery in IN may be scanned
	// again, and take another batch each time.
	q := `WITH batch AS MATERIALIZED (
	SELECT id FROM provsync_log WHERE target = $1 AND ` + cond + ` LIMIT $3 FOR UPDATE SKIP LOCKED)
DELETE FROM provsync_log l USING batch WHERE l.target = $1 AND l.id = batch.id`
	for {
		tag, err := l.pool.Exec(ctx, q, l.target, arg, l.pruneBatch)
		if err != nil {
			return err
		}
		p.Batches++
		p.Deleted += tag.RowsAffected()
		if tag.RowsAffected() < int64(l.pruneBatch) {
			return nil
		}
	}
}
