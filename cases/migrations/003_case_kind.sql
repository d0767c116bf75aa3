-- The incident kind of a case opened by policy (tamper, fire_smoke, …;
-- empty for cases filed by hand): screens name such a case in the user's
-- language from its kind and camera.
ALTER TABLE cases ADD COLUMN kind TEXT NOT NULL DEFAULT '';
