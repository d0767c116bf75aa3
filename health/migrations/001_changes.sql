-- A camera's health as it changed: one row per change of state (online,
-- offline with its reason, unknown), at the time it was seen. The state
-- between two rows is the first's.
CREATE TABLE health_changes (
    camera_id TEXT NOT NULL,
    at_ms     BIGINT NOT NULL,
    state     TEXT NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (camera_id, at_ms)
);
CREATE INDEX health_changes_at ON health_changes (at_ms);
