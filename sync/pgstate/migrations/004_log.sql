-- provsync state, version 4: the provisioning log (see sync/provlog), so
-- that replicas sharing the database keep one history per target.

-- One row per event, in the order written (id); the columns that
-- provlog.Filter selects on beside the whole event as JSON.
CREATE TABLE provsync_log (
	target    text NOT NULL,
	id        bigserial,
	at        timestamptz NOT NULL,
	cycle     text NOT NULL,
	kind      text NOT NULL,
	action    text NOT NULL,
	outcome   text NOT NULL,
	source_id text NOT NULL,
	target_id text NOT NULL,
	name_key  text NOT NULL, -- the name (userName, displayName), lower case
	event     jsonb NOT NULL,
	PRIMARY KEY (target, id)
);
CREATE INDEX provsync_log_at ON provsync_log (target, at);
CREATE INDEX provsync_log_cycle ON provsync_log (target, cycle);
CREATE INDEX provsync_log_source_id ON provsync_log (target, source_id);
CREATE INDEX provsync_log_target_id ON provsync_log (target, target_id);
CREATE INDEX provsync_log_name ON provsync_log (target, name_key);
