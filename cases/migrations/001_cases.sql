-- Cases of the 五办联动 pipeline and their append-only audit trail.
-- Times are Unix milliseconds (portable across SQLite and PostgreSQL).
CREATE TABLE cases (
    id           TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    source       TEXT NOT NULL,
    category     TEXT NOT NULL,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    grid         TEXT NOT NULL DEFAULT '',
    camera_id    TEXT NOT NULL DEFAULT '',
    incident_id  TEXT NOT NULL DEFAULT '',
    lat          DOUBLE PRECISION,
    lon          DOUBLE PRECISION,
    priority     INTEGER NOT NULL,
    assignee     TEXT NOT NULL DEFAULT '',
    reporter     TEXT NOT NULL DEFAULT '',
    limit_days   INTEGER NOT NULL,
    escalation   INTEGER NOT NULL DEFAULT 0,
    sla_start    BIGINT NOT NULL,
    paused_ms    BIGINT NOT NULL DEFAULT 0,
    suspended_at BIGINT,
    rating       INTEGER,
    duplicate_of TEXT NOT NULL DEFAULT '',
    reopened     INTEGER NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    closed_at    BIGINT,
    version      INTEGER NOT NULL
);
CREATE INDEX cases_state ON cases (state);
CREATE INDEX cases_grid ON cases (grid);
CREATE INDEX cases_camera ON cases (camera_id);

CREATE TABLE case_audit (
    case_id    TEXT NOT NULL,
    n          INTEGER NOT NULL,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    role       TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    escalation INTEGER NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (case_id, n)
);
