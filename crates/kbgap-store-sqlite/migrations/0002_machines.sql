-- One row per machine: the latest report as JSON (serde_json of kbgap_core::Device), plus the
-- columns lookups and listings use. Timestamps are RFC 3339 UTC text with six fractional
-- digits, so text order is time order.
CREATE TABLE machines (
    id                      TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 40),
    computer_dns_name_lower TEXT NOT NULL UNIQUE CHECK (computer_dns_name_lower <> ''),
    os_name                 TEXT,
    os_version              TEXT,
    first_seen              TEXT NOT NULL,
    last_seen               TEXT NOT NULL,
    device                  TEXT NOT NULL
) STRICT;

CREATE INDEX machines_last_seen ON machines (last_seen);
CREATE INDEX machines_os ON machines (os_version, os_name);
