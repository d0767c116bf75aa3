-- Recorded footage: one row per segment file (camera, stream, the wall-
-- clock span it covers, its size, the node whose disk holds it). A segment
-- being written is open, its end following its fragments as they are synced.
CREATE TABLE recording_segments (
    id        TEXT PRIMARY KEY,
    camera_id TEXT NOT NULL,
    stream    TEXT NOT NULL,
    start_ms  BIGINT NOT NULL,
    end_ms    BIGINT NOT NULL,
    bytes     BIGINT NOT NULL,
    node      TEXT NOT NULL,
    path      TEXT NOT NULL,
    codec     TEXT NOT NULL,
    width     INTEGER NOT NULL,
    height    INTEGER NOT NULL,
    open      INTEGER NOT NULL
);
CREATE INDEX recording_segments_camera ON recording_segments (camera_id, stream, start_ms);
CREATE INDEX recording_segments_node ON recording_segments (node, start_ms);

-- Evidence clips: the footage of an incident of a case (pre-roll to
-- post-roll), made once into a file of its own and kept while the case
-- needs it. due_ms is when the footage will all be there.
CREATE TABLE case_clips (
    id          TEXT PRIMARY KEY,
    case_id     TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    camera_id   TEXT NOT NULL,
    stream      TEXT NOT NULL,
    start_ms    BIGINT NOT NULL,
    end_ms      BIGINT NOT NULL,
    due_ms      BIGINT NOT NULL,
    state       TEXT NOT NULL,
    bytes       BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    path        TEXT NOT NULL,
    node        TEXT NOT NULL,
    error       TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
CREATE UNIQUE INDEX case_clips_incident ON case_clips (case_id, incident_id);
CREATE INDEX case_clips_state ON case_clips (state, due_ms);

-- Every look back: who played or exported which camera's past, when.
CREATE TABLE recording_access (
    id        TEXT PRIMARY KEY,
    at_ms     BIGINT NOT NULL,
    who       TEXT NOT NULL,
    camera_id TEXT NOT NULL,
    stream    TEXT NOT NULL,
    from_ms   BIGINT NOT NULL,
    to_ms     BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    clip_id   TEXT NOT NULL,
    addr      TEXT NOT NULL
);
CREATE INDEX recording_access_camera ON recording_access (camera_id, at_ms);
CREATE INDEX recording_access_at ON recording_access (at_ms);
