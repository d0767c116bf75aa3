-- Where an evidence clip's footage came from when the gateway recorded
-- none of it: the camera's device (a GB/T 28181 Download), its channel
-- and the window asked for.
ALTER TABLE case_clips ADD COLUMN provenance TEXT NOT NULL DEFAULT '';
