-- Escalation rules (src/escalation): which request types may be escalated to which owner
-- teams, optionally only within local hours. A case's escalation is correct when a rule
-- allows it (the call-center KPI vocabulary's escalation accuracy). Replaced as a whole.
CREATE TABLE escalation_rules (
    position     integer PRIMARY KEY,
    request_type text NOT NULL CHECK (length(request_type) BETWEEN 1 AND 200),
    owner_team   text NOT NULL CHECK (length(owner_team) BETWEEN 1 AND 200),
    time_zone    text,
    hours_start  time,
    hours_end    time,
    CHECK ((time_zone IS NULL) = (hours_start IS NULL) AND (hours_start IS NULL) = (hours_end IS NULL))
);
