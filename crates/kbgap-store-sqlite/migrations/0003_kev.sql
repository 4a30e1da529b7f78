-- CISA's Known Exploited Vulnerabilities catalog: one row, the newest release stored (the JSON
-- of kbgap_core::Kev). Replacing it bumps catalog_state.generation, like a document import.
CREATE TABLE kev_catalog (
    singleton       INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    catalog_version TEXT    NOT NULL,
    date_released   TEXT    NOT NULL,
    entries         INTEGER NOT NULL,
    body            TEXT    NOT NULL,
    stored_at       TEXT    NOT NULL
) STRICT;
