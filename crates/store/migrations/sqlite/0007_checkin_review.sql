-- Bounds on what a gate device may assert about the past. Keep in step with
-- ../postgres/0007_checkin_review.sql.
--
-- `devices.created_at` (0005) is the enrolment bound: no check-in is dated before it.
-- `devices.upload_high_water` is the latest check-in time among the rows the device has
-- uploaded; a gate uploads its queue in order, so a row well before it is the device
-- asserting history. Such a row is kept with `checkins.flagged = 1`, for review, and is left
-- out of risk areas and co-presence. Existing devices start from the latest check-in they
-- recorded; existing check-ins are not flagged.
ALTER TABLE devices ADD COLUMN upload_high_water INTEGER;
UPDATE devices SET upload_high_water =
    (SELECT MAX(at) FROM checkins WHERE checkins.device_id = devices.id);
ALTER TABLE checkins ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0;
