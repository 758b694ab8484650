-- provsync state, version 5: the source users not created because an
-- account the engine may not adopt holds their userName (sync.Conflict as
-- JSON), by source user id.
CREATE TABLE provsync_conflicts (
	target    text NOT NULL,
	source_id text NOT NULL,
	doc       jsonb NOT NULL,
	PRIMARY KEY (target, source_id)
);
