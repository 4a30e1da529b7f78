-- Several servers on one database follow each other's machine writes through a durable change
-- sequence (kbgap_store::changes). Every transaction that writes machines takes the next number
-- of machine_changes.seq (one per transaction; the counter's row lock makes writers take turns,
-- so numbers are in commit order), stamps it on the rows it writes (updated_seq) and on a
-- tombstone for every row it deletes, and announces it on channel kbgap_machines at commit.
-- Triggers do all of it, so every statement that writes machines is covered.
CREATE TABLE machine_changes (
    singleton      BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    seq            BIGINT  NOT NULL,
    -- Tombstones numbered up to this were pruned: a reader further behind reloads everything.
    pruned_through BIGINT  NOT NULL
);

INSERT INTO machine_changes (singleton, seq, pruned_through) VALUES (TRUE, 0, 0);

ALTER TABLE machines ADD COLUMN updated_seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX machines_updated_seq ON machines (updated_seq);

CREATE TABLE machine_deletions (
    id         TEXT        NOT NULL,
    seq        BIGINT      NOT NULL,
    deleted_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX machine_deletions_seq ON machine_deletions (seq);
CREATE INDEX machine_deletions_deleted_at ON machine_deletions (deleted_at);

-- The current transaction's change number, taken from the counter on first use and kept in a
-- transaction-local setting (rolled back with the transaction or savepoint that took it).
CREATE FUNCTION kbgap_machine_seq() RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    s BIGINT := NULLIF(current_setting('kbgap.machine_seq', true), '')::BIGINT;
BEGIN
    IF s IS NULL THEN
        UPDATE machine_changes SET seq = seq + 1 RETURNING seq INTO s;
        PERFORM set_config('kbgap.machine_seq', s::text, true);
        PERFORM pg_notify('kbgap_machines', s::text);
    END IF;
    RETURN s;
END
$$;

-- Taken before a statement touches any row: every writer locks the counter before machine
-- rows, so two writers never wait for each other in opposite orders. A statement that writes
-- no row still takes a number; readers find nothing under it.
CREATE FUNCTION kbgap_machine_statement() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM kbgap_machine_seq();
    RETURN NULL;
END
$$;

CREATE TRIGGER machines_seq BEFORE INSERT OR UPDATE OR DELETE ON machines
    FOR EACH STATEMENT EXECUTE FUNCTION kbgap_machine_statement();

CREATE FUNCTION kbgap_machine_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_seq := kbgap_machine_seq();
    RETURN NEW;
END
$$;

CREATE TRIGGER machines_stamp BEFORE INSERT OR UPDATE ON machines
    FOR EACH ROW EXECUTE FUNCTION kbgap_machine_stamp();

CREATE FUNCTION kbgap_machine_tombstones() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO machine_deletions (id, seq) SELECT id, kbgap_machine_seq() FROM gone;
    RETURN NULL;
END
$$;

CREATE TRIGGER machines_tombstones AFTER DELETE ON machines
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION kbgap_machine_tombstones();

-- Catalog changes are announced too (channel kbgap_catalog, payload the new generation), so
-- servers reload at once instead of at their next poll.
CREATE FUNCTION kbgap_catalog_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kbgap_catalog', NEW.generation::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER catalog_state_notify AFTER UPDATE ON catalog_state
    FOR EACH ROW EXECUTE FUNCTION kbgap_catalog_notify();

-- The token signing key every server on this database shares (PKCS#8 PEM, P-256): written once
-- by the first server that needs one; the others use it.
CREATE TABLE signing_key (
    singleton  BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    pem        TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
