-- One row per UTC day: the fleet's counts as recorded that day (the dashboard's posture trend,
-- kbgap_store::FleetSnapshot). Recording a day again replaces its row unless the stored one
-- was recorded later. Days are YYYY-MM-DD and timestamps RFC 3339 UTC with six fractional
-- digits, so text order is time order.
CREATE TABLE fleet_snapshots (
    day               TEXT    NOT NULL PRIMARY KEY
                              CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    recorded_at       TEXT    NOT NULL,
    assessed          INTEGER NOT NULL CHECK (assessed >= 0),
    active            INTEGER NOT NULL CHECK (active >= 0),
    missing_any       INTEGER NOT NULL CHECK (missing_any >= 0),
    missing_exploited INTEGER NOT NULL CHECK (missing_exploited >= 0),
    exposure_none     INTEGER NOT NULL CHECK (exposure_none >= 0),
    exposure_low      INTEGER NOT NULL CHECK (exposure_low >= 0),
    exposure_medium   INTEGER NOT NULL CHECK (exposure_medium >= 0),
    exposure_high     INTEGER NOT NULL CHECK (exposure_high >= 0),
    on_newest_update  INTEGER NOT NULL CHECK (on_newest_update >= 0)
) STRICT;
