-- One row per machine: the latest report (serde_json of kbgap_core::Device) plus the columns
-- lookups and listings use.
CREATE TABLE machines (
    id                      TEXT        PRIMARY KEY CHECK (id ~ '^[0-9a-f]{40}$'),
    computer_dns_name_lower TEXT        NOT NULL CHECK (computer_dns_name_lower <> ''),
    os_name                 TEXT,
    os_version              TEXT,
    first_seen              TIMESTAMPTZ NOT NULL,
    last_seen               TIMESTAMPTZ NOT NULL,
    device                  JSONB       NOT NULL,
    -- Checked at commit: a batch may move a name from one machine to another, and only the
    -- end state must be unique.
    CONSTRAINT machines_name_unique UNIQUE (computer_dns_name_lower) DEFERRABLE INITIALLY DEFERRED
);

CREATE INDEX machines_last_seen ON machines (last_seen);
CREATE INDEX machines_os ON machines (os_version, os_name);
