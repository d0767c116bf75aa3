-- The timeline: one row per stretch of footage one recorder wrote without
-- a gap (its segments carry its id), kept as segments are written and
-- deleted, so a month of a camera is tens of rows, not 43,200 segments.
ALTER TABLE recording_segments ADD COLUMN span_id TEXT NOT NULL DEFAULT '';
UPDATE recording_segments SET span_id = id;
CREATE INDEX recording_segments_span ON recording_segments (span_id, start_ms);
CREATE TABLE recording_spans (
    id        TEXT PRIMARY KEY,
    camera_id TEXT NOT NULL,
    stream    TEXT NOT NULL,
    node      TEXT NOT NULL,
    start_ms  BIGINT NOT NULL,
    end_ms    BIGINT NOT NULL,
    bytes     BIGINT NOT NULL
);
CREATE INDEX recording_spans_camera ON recording_spans (camera_id, stream, start_ms);
INSERT INTO recording_spans (id, camera_id, stream, node, start_ms, end_ms, bytes)
    SELECT id, camera_id, stream, node, start_ms, end_ms, bytes FROM recording_segments;
