-- The Dynamics 365 template's own columns (issue 22): the extraction time of each row
-- (LastDataUpdate) and the derived columns as the source reported them (IsFirstContactResolution,
-- IsRework, IsSlaBreached, ServiceRequestCycleTime), kept for reconciliation with Switchboard's
-- own metrics; and the canonical level of a case's priority (its text is kept for display).
ALTER TABLE events
    ADD COLUMN last_data_update timestamptz,
    ADD COLUMN reported_first_contact_resolution boolean,
    ADD COLUMN reported_rework boolean,
    ADD COLUMN reported_sla_breached boolean,
    ADD COLUMN reported_cycle_time_s float8;

ALTER TABLE cases
    ADD COLUMN priority_level text CHECK (priority_level IN ('low', 'normal', 'high', 'urgent')),
    ADD COLUMN reported_first_contact_resolution boolean,
    ADD COLUMN reported_rework boolean,
    ADD COLUMN reported_sla_breached boolean,
    ADD COLUMN reported_cycle_time_s float8;

-- When the imported data was extracted from its source (the latest LastDataUpdate of the file).
ALTER TABLE imports ADD COLUMN data_extracted_at timestamptz;
-- What to do next, when an import needs it (e.g. most activities have no canonical role).
ALTER TABLE imports ADD COLUMN hint text;
