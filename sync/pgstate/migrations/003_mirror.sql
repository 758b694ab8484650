-- provsync state, version 3: the mirrors of the owned objects and the
-- last drift check (see sync.Mirror and sync.Snapshot.LastDriftCheck).

-- What the engine knows of a linked target object (sync.Mirror as JSON);
-- NULL while unknown.
ALTER TABLE provsync_links ADD COLUMN mirror json;

-- When the engine last read the whole target, and the display names of
-- the target groups it does not own, as that read listed them (a JSON
-- array of strings).
ALTER TABLE provsync_state ADD COLUMN drift_checked_at timestamptz;
ALTER TABLE provsync_state ADD COLUMN target_groups json;
