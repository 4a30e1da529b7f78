-- Tokens kbgap issued (kbgap token), and revocation: a revoked token has revoked_at set;
-- token_revocation.issued_before refuses every token issued before it, recorded or not, and
-- generation is bumped by every revocation so servers poll one row.
CREATE TABLE issued_tokens (
    jti        TEXT        PRIMARY KEY,
    subject    TEXT        NOT NULL,
    roles      TEXT        NOT NULL,
    machine    TEXT,
    issued_at  TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX issued_tokens_revoked ON issued_tokens (expires_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE token_revocation (
    singleton     BOOLEAN     PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    generation    BIGINT      NOT NULL,
    issued_before TIMESTAMPTZ
);
INSERT INTO token_revocation (singleton, generation, issued_before) VALUES (TRUE, 0, NULL);
