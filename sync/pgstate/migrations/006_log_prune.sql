-- provsync state, version 6: retention of the provisioning log. Each
-- target's last pruning, claimed by one replica at a time, so that the
-- replicas sharing the database prune a log at most once per interval.
-- Deleting by age reads the index provsync_log_at (target, at), by count
-- the primary key (target, id).
CREATE TABLE provsync_log_prune (
	target    text PRIMARY KEY,
	pruned_at timestamptz NOT NULL
);
