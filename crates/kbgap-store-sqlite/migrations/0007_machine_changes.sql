-- A running server follows machine writes made by other processes (`kbgap machines import`,
-- `delete`, `purge`) through a durable change sequence (kbgap_store::changes): every write
-- takes the next number of machine_changes.seq and stamps it on the rows it writes
-- (updated_seq) or on a tombstone for each row it deletes; the server polls the counter.
-- SQLite has one writer at a time, so numbers are in commit order. The upsert stamps a whole
-- batch with one number itself; the triggers cover every other statement, one number a row.
CREATE TABLE machine_changes (
    singleton      INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    seq            INTEGER NOT NULL,
    -- Tombstones numbered up to this were pruned: a reader further behind reloads everything.
    pruned_through INTEGER NOT NULL
) STRICT;

INSERT INTO machine_changes (singleton, seq, pruned_through) VALUES (1, 0, 0);

ALTER TABLE machines ADD COLUMN updated_seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX machines_updated_seq ON machines (updated_seq);

CREATE TABLE machine_deletions (
    id         TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    deleted_at TEXT    NOT NULL
) STRICT;

CREATE INDEX machine_deletions_seq ON machine_deletions (seq);
CREATE INDEX machine_deletions_deleted_at ON machine_deletions (deleted_at);

-- A row written without a number of its own (updated_seq unchanged or 0) gets the next one.
CREATE TRIGGER machines_stamp_insert AFTER INSERT ON machines WHEN NEW.updated_seq = 0
BEGIN
    UPDATE machine_changes SET seq = seq + 1;
    UPDATE machines SET updated_seq = (SELECT seq FROM machine_changes) WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER machines_stamp_update AFTER UPDATE ON machines
    WHEN NEW.updated_seq IS OLD.updated_seq
BEGIN
    UPDATE machine_changes SET seq = seq + 1;
    UPDATE machines SET updated_seq = (SELECT seq FROM machine_changes) WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER machines_tombstone AFTER DELETE ON machines
BEGIN
    UPDATE machine_changes SET seq = seq + 1;
    INSERT INTO machine_deletions (id, seq, deleted_at)
        VALUES (OLD.id, (SELECT seq FROM machine_changes), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

-- The token signing key, when the store is asked to share one (PKCS#8 PEM, P-256).
CREATE TABLE signing_key (
    singleton  INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    pem        TEXT    NOT NULL,
    created_at TEXT    NOT NULL
) STRICT;
