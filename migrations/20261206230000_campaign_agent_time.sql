-- Logged agent time of a campaign, as the dialer or workforce tool reports it: seconds an agent
-- was logged in to the campaign on a UTC day. Where a day has it, RPC per agent hour uses it
-- instead of the span of the agent's attempts that day. The last upload per day wins.
CREATE TABLE campaign_agent_time (
    campaign_id     bigint NOT NULL REFERENCES campaigns (id),
    agent           text NOT NULL CHECK (length(agent) BETWEEN 1 AND 200),
    day             date NOT NULL,
    logged_seconds  float8 NOT NULL CHECK (logged_seconds >= 0 AND logged_seconds <= 86400),
    uploaded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, agent, day)
);
