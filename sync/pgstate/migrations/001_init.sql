-- provsync state, version 1. Every row is keyed by the target's name, so
-- one database holds the states of many targets.

-- One row per target: the snapshot's serial (compare and swap on Save)
-- and a generation that every Save and Record bumps.
CREATE TABLE provsync_state (
	target     text PRIMARY KEY,
	version    integer NOT NULL,
	serial     bigint NOT NULL,
	generation bigint NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Source objects and the target objects the engine owns for them.
CREATE TABLE provsync_links (
	target         text NOT NULL,
	kind           text NOT NULL,
	source_id      text NOT NULL,
	target_id      text NOT NULL,
	origin         text NOT NULL,
	since          timestamptz NOT NULL,
	deactivated_at timestamptz,
	PRIMARY KEY (target, kind, source_id)
);

-- Creates sent but not yet known to have landed.
CREATE TABLE provsync_intents (
	target      text NOT NULL,
	kind        text NOT NULL,
	source_id   text NOT NULL,
	key         text NOT NULL,
	external_id text NOT NULL,
	since       timestamptz NOT NULL,
	PRIMARY KEY (target, kind, source_id)
);

-- Incremental read cursors, by source name.
CREATE TABLE provsync_cursors (
	target text NOT NULL,
	source text NOT NULL,
	cursor text NOT NULL,
	PRIMARY KEY (target, source)
);

-- The directory an incremental source last yielded, by source name
-- (json, not jsonb: kept as written, up to 1 GB).
CREATE TABLE provsync_directories (
	target text NOT NULL,
	source text NOT NULL,
	doc    json NOT NULL,
	PRIMARY KEY (target, source)
);

-- Changes sent for approval, by id.
CREATE TABLE provsync_approvals (
	target text NOT NULL,
	id     text NOT NULL,
	doc    jsonb NOT NULL,
	PRIMARY KEY (target, id)
);

-- A Runner's failed changes, by object and action.
CREATE TABLE provsync_escrow (
	target text NOT NULL,
	key    text NOT NULL,
	doc    jsonb NOT NULL,
	PRIMARY KEY (target, key)
);
