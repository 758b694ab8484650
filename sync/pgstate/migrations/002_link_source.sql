-- provsync state, version 2: each link names the source that owns its
-- target object. Links stored before have none ('') and belong to the
-- engine that loads them.
ALTER TABLE provsync_links ADD COLUMN source text NOT NULL DEFAULT '';

-- The source that will own the object a pending create makes.
ALTER TABLE provsync_intents ADD COLUMN source text NOT NULL DEFAULT '';
