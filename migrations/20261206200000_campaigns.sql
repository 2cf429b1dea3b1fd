-- Cross-sell campaigns (src/campaigns): call lists cut from a scoring run's deciles, suppressed
-- by the customer's service experience, with a sticky holdout; attempts and their outcomes.

-- A scored account's customers in the case store (a case's `customer`). Where an account has
-- no link, its own id is taken as the customer id. The time zone and window place the
-- customer's local calling hours.
CREATE TABLE account_links (
    account_id   text NOT NULL CHECK (length(account_id) BETWEEN 1 AND 200),
    customer     text NOT NULL CHECK (length(customer) BETWEEN 1 AND 200),
    time_zone    text,
    window_start time,
    window_end   time,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, customer),
    CHECK ((window_start IS NULL) = (window_end IS NULL))
);

CREATE TABLE campaigns (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    run_id          bigint NOT NULL REFERENCES scoring_runs (id),
    -- Holdout assignment: sha256(seed, U+001F, account id); see campaigns::holdout.
    seed            text NOT NULL,
    holdout_share   float8 NOT NULL CHECK (holdout_share >= 0 AND holdout_share <= 0.9),
    -- The request's selection, suppression and cap rules, as given (with defaults filled).
    rules           jsonb NOT NULL,
    -- Suppression windows end here (the creation instant unless the request set it).
    as_of           timestamptz NOT NULL,
    -- The calling window of accounts whose link gives none.
    time_zone       text NOT NULL,
    window_start    time NOT NULL,
    window_end      time NOT NULL,
    selected        bigint NOT NULL,
    -- Accounts excluded per rule (each account counted under the first rule it meets).
    suppressed      jsonb NOT NULL,
    held_out        bigint NOT NULL,
    to_call         bigint NOT NULL,
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- Every selected account of a campaign and what became of it. One partition per campaign,
-- loaded and indexed before it is attached (as account_scores per run): creating a campaign of
-- millions of accounts never maintains an index row by row.
CREATE TABLE campaign_members (
    campaign_id  bigint NOT NULL,
    account_id   text NOT NULL,
    probability  float8 NOT NULL,
    decile       smallint NOT NULL,
    -- 1 for the highest probability (ties by account id): the call order.
    position     bigint NOT NULL,
    status       text NOT NULL CHECK (status IN ('call', 'holdout', 'excluded')),
    -- For excluded accounts: the rule and what met it (a case id, a count of attempts).
    rule         text,
    rule_detail  text,
    -- The link's customer and calling window at creation (NULL: the campaign's default).
    customer     text,
    time_zone    text,
    window_start time,
    window_end   time
) PARTITION BY LIST (campaign_id);

-- Per campaign (partition): an account's row (unique by construction: a run scores an account
-- once), and the call list and exclusions in call order.
CREATE INDEX campaign_members_account ON campaign_members (account_id);
CREATE INDEX campaign_members_order ON campaign_members (status, position);

-- Call attempts and their outcomes, idempotent by attempt id within a campaign.
CREATE TABLE campaign_attempts (
    campaign_id  bigint NOT NULL REFERENCES campaigns (id),
    attempt_id   text NOT NULL CHECK (length(attempt_id) BETWEEN 1 AND 200),
    account_id   text NOT NULL,
    agent        text NOT NULL,
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL CHECK (ended_at >= started_at),
    disposition  text NOT NULL CHECK (disposition IN
        ('no_answer', 'busy', 'wrong_party', 'right_party_contact', 'callback_requested')),
    offer_result text CHECK (offer_result IN ('accepted', 'declined')),
    uploaded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign_id, attempt_id),
    CHECK (offer_result IS NULL OR disposition = 'right_party_contact')
);

-- Contact caps count an account's attempts across campaigns over a period.
CREATE INDEX campaign_attempts_account ON campaign_attempts (account_id, started_at);
