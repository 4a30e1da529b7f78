-- Tokens kbgap issued (kbgap token), and revocation: a revoked token has revoked_at set;
-- token_revocation.issued_before refuses every token issued before it, recorded or not, and
-- generation is bumped by every revocation so servers poll one row.
CREATE TABLE issued_tokens (
    jti        TEXT NOT NULL PRIMARY KEY,
    subject    TEXT NOT NULL,
    roles      TEXT NOT NULL,
    machine    TEXT,
    issued_at  TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;
CREATE INDEX issued_tokens_revoked ON issued_tokens (expires_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE token_revocation (
    singleton     INTEGER NOT NULL PRIMARY KEY CHECK (singleton = 1),
    generation    INTEGER NOT NULL,
    issued_before TEXT
) STRICT;
INSERT INTO token_revocation (singleton, generation, issued_before) VALUES (1, 0, NULL);
