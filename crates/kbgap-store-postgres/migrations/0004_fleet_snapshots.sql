-- One row per UTC day: the fleet's counts as recorded that day (the dashboard's posture trend,
-- kbgap_store::FleetSnapshot). Recording a day again replaces its row unless the stored one
-- was recorded later.
CREATE TABLE fleet_snapshots (
    day               DATE        PRIMARY KEY,
    recorded_at       TIMESTAMPTZ NOT NULL,
    assessed          BIGINT      NOT NULL CHECK (assessed >= 0),
    active            BIGINT      NOT NULL CHECK (active >= 0),
    missing_any       BIGINT      NOT NULL CHECK (missing_any >= 0),
    missing_exploited BIGINT      NOT NULL CHECK (missing_exploited >= 0),
    exposure_none     BIGINT      NOT NULL CHECK (exposure_none >= 0),
    exposure_low      BIGINT      NOT NULL CHECK (exposure_low >= 0),
    exposure_medium   BIGINT      NOT NULL CHECK (exposure_medium >= 0),
    exposure_high     BIGINT      NOT NULL CHECK (exposure_high >= 0),
    on_newest_update  BIGINT      NOT NULL CHECK (on_newest_update >= 0)
);
