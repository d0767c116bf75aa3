-- When the repair loop recorded that an outage's cameras came back (on
-- its case): each closed outage is told once.
ALTER TABLE incidents ADD COLUMN returned_at BIGINT;
