-- Pictures that came with alarms (an ISAPI multipart alarm's snapshot),
-- checked as JPEG or PNG and at most 2 MiB. An event points at its picture
-- by media_url /api/v1/media/{id}.
CREATE TABLE event_media (
    id           TEXT PRIMARY KEY,
    camera_id    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    body         BYTEA NOT NULL,
    at           BIGINT NOT NULL
);
