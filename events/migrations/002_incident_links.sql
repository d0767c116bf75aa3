-- The cameras and grid cells of an incident as rows, so filters match
-- whole ids (camera C1 is not C10). The comma-joined columns stay as the
-- incident's own record, these tables are what queries use. Rows for
-- incidents stored before this migration are added by the store on start.
CREATE TABLE incident_cameras (
    incident_id TEXT NOT NULL,
    camera_id   TEXT NOT NULL,
    PRIMARY KEY (incident_id, camera_id)
);
CREATE INDEX incident_cameras_camera ON incident_cameras (camera_id);
CREATE TABLE incident_grids (
    incident_id TEXT NOT NULL,
    grid        TEXT NOT NULL,
    PRIMARY KEY (incident_id, grid)
);
CREATE INDEX incident_grids_grid ON incident_grids (grid);
CREATE INDEX events_at ON events (at);
