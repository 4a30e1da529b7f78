-- One row per MSRC document id: the newest revision imported. The payload is the whole
-- document (postcard bytes of kbgap_core::Document, zstd-compressed); the other columns let
-- `catalog_infos` and import decisions run without reading payloads.
CREATE TABLE catalog_documents (
    id              TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    title           TEXT    NOT NULL,
    revision        TEXT    NOT NULL,
    initial_release TEXT    NOT NULL,
    current_release TEXT    NOT NULL,
    payload_format  INTEGER NOT NULL,
    raw_len         INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    imported_at     TEXT    NOT NULL
) STRICT;

-- A single row, bumped by every import that changes a document, so servers know to reload.
CREATE TABLE catalog_state (
    singleton  INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    generation INTEGER NOT NULL
) STRICT;

INSERT INTO catalog_state (singleton, generation) VALUES (1, 0);
