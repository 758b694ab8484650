-- provsync state, version 5: the source users and groups not created
-- because a target object the engine may not adopt holds their userName
-- (displayName): sync.Conflict as JSON, by kind and source id.
CREATE TABLE provsync_conflicts (
	target text NOT NULL,
	key    text NOT NULL,
	doc    jsonb NOT NULL,
	PRIMARY KEY (target, key)
);
