-- Photos attached to a case (a grid worker's before/after pictures), kept
-- with the case in the same database. lat/lon come from the photo's EXIF
-- GPS when it has one.
CREATE TABLE case_attachments (
    id           TEXT PRIMARY KEY,
    case_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    body         BYTEA NOT NULL,
    lat          DOUBLE PRECISION,
    lon          DOUBLE PRECISION,
    uploaded_by  TEXT NOT NULL,
    at           BIGINT NOT NULL
);
CREATE INDEX case_attachments_case ON case_attachments (case_id, at);
