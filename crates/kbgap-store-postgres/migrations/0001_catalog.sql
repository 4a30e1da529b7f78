-- One row per MSRC document id: the newest revision imported. The payload is the whole
-- document (postcard bytes of kbgap_core::Document, zstd-compressed); the other columns let
-- `catalog_infos` and import decisions run without reading payloads.
CREATE TABLE catalog_documents (
    id              TEXT        PRIMARY KEY CHECK (id <> ''),
    title           TEXT        NOT NULL,
    revision        TEXT        NOT NULL,
    initial_release TEXT        NOT NULL,
    current_release TEXT        NOT NULL,
    payload_format  INTEGER     NOT NULL,
    raw_len         BIGINT      NOT NULL,
    payload         BYTEA       NOT NULL,
    imported_at     TIMESTAMPTZ NOT NULL
);

-- The payload is zstd already: store it out of line without TOAST's own compression.
ALTER TABLE catalog_documents ALTER COLUMN payload SET STORAGE EXTERNAL;

-- A single row, bumped by every import that changes a document, so servers know to reload.
-- Imports also lock it (FOR UPDATE), which makes concurrent imports take turns.
CREATE TABLE catalog_state (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    generation BIGINT  NOT NULL
);

INSERT INTO catalog_state (singleton, generation) VALUES (TRUE, 0);
