-- Events (idempotent by source + source_event_id) and the incidents they
-- fold into. Times are Unix milliseconds.
CREATE TABLE events (
    source          TEXT NOT NULL,
    source_event_id TEXT NOT NULL,
    camera_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    phase           TEXT NOT NULL,
    at              BIGINT NOT NULL,
    priority        INTEGER NOT NULL,
    grids           TEXT NOT NULL DEFAULT '',
    incident_id     TEXT NOT NULL DEFAULT '',
    received        BIGINT NOT NULL,
    body            TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (source, source_event_id)
);
CREATE INDEX events_camera ON events (camera_id, at);

CREATE TABLE incidents (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    camera_id  TEXT NOT NULL,
    site       TEXT NOT NULL DEFAULT '',
    cameras    TEXT NOT NULL DEFAULT '',
    grids      TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL,
    count      INTEGER NOT NULL,
    priority   INTEGER NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    ended_at   BIGINT,
    flaps      INTEGER NOT NULL DEFAULT 0,
    case_id    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX incidents_open ON incidents (camera_id, kind, state);
