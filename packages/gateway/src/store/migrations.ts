/**
 * The store's schema as a versioned list. `openStore` applies every migration whose
 * version is above the database's `PRAGMA user_version`, each in its own transaction
 * together with the new user_version, so a failed migration leaves the file unchanged.
 * Never edit a migration that has shipped: append a new one.
 */
export interface Migration {
  /** 1, 2, 3, … without gaps; becomes PRAGMA user_version. */
  readonly version: number
  readonly name: string
  /** SQL statements, run with `exec`. */
  readonly sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'readings, interval values, outbox, config versions, logs',
    sql: `
-- One row per reading as the meter sent it. mantissa has no declared type (BLOB affinity):
-- an INTEGER when it fits in 64 bits signed, otherwise its decimal TEXT, so no value is
-- ever rounded through REAL. The value is mantissa × 10^scaler (IEC 62056-6-2 scaler).
CREATE TABLE readings (
  id          INTEGER PRIMARY KEY,
  meter_id    TEXT    NOT NULL,
  quantity    TEXT    NOT NULL,  -- OBIS code 'A-B:C.D.E*F' or an M-Bus quantity key
  time_ms     INTEGER NOT NULL,  -- value time, ms since 1970 UTC
  mantissa            NOT NULL,
  scaler      INTEGER NOT NULL,
  unit        TEXT,              -- DLMS unit symbol ('Wh', 'W', 'm3', …) or M-Bus unit
  status,                        -- status word, same storage rule as mantissa; NULL when none
  received_ms INTEGER NOT NULL   -- when the gateway committed it
);
CREATE INDEX readings_by_meter ON readings (meter_id, quantity, time_ms);
CREATE INDEX readings_by_time ON readings (time_ms);

-- Register values cut at interval boundaries of legal time (TAF 7 and friends, later).
CREATE TABLE interval_values (
  id           INTEGER PRIMARY KEY,
  meter_id     TEXT    NOT NULL,
  quantity     TEXT    NOT NULL,
  period_s     INTEGER NOT NULL,   -- registration period, e.g. 900
  end_ms       INTEGER NOT NULL,   -- interval end in legal time, ms since 1970 UTC
  mantissa             NOT NULL,
  scaler       INTEGER NOT NULL,
  unit         TEXT,
  status       INTEGER NOT NULL,   -- gateway status word (time valid, meter error, …)
  UNIQUE (meter_id, quantity, period_s, end_ms)
);

-- Messages waiting for the WAN (later): one row per recipient and message.
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  recipient       TEXT    NOT NULL,
  purpose         TEXT    NOT NULL,
  payload         BLOB    NOT NULL,
  state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL,
  created_ms      INTEGER NOT NULL,
  last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_ms);

-- Every configuration the gateway ran with, as canonical JSON.
CREATE TABLE config_versions (
  version    INTEGER PRIMARY KEY,
  created_ms INTEGER NOT NULL,
  sha256     TEXT    NOT NULL,
  config     TEXT    NOT NULL
);

-- The three PP-0073 logs. One hash chain per (log, stream): the system and calibration
-- logs have the single stream '', the consumer log one stream per consumer.
CREATE TABLE log_entries (
  log    TEXT    NOT NULL CHECK (log IN ('system', 'consumer', 'calibration')),
  stream TEXT    NOT NULL,
  seq    INTEGER NOT NULL,
  time   TEXT    NOT NULL,  -- ISO 8601 UTC with milliseconds
  type   TEXT    NOT NULL,
  fields TEXT    NOT NULL,  -- canonical JSON (RFC 8785)
  prev   TEXT    NOT NULL,  -- hash of the previous entry, lower-case hex
  hash   TEXT    NOT NULL,  -- SHA-256 of this entry's canonical encoding, lower-case hex
  PRIMARY KEY (log, stream, seq)
) WITHOUT ROWID;

-- Signed chain heads: the last entry of each legal day (Europe/Berlin).
CREATE TABLE log_heads (
  log       TEXT    NOT NULL,
  stream    TEXT    NOT NULL,
  seq       INTEGER NOT NULL,
  kind      TEXT    NOT NULL,
  day       TEXT    NOT NULL,  -- YYYY-MM-DD, legal day of the entry at seq
  hash      TEXT    NOT NULL,  -- that entry's hash
  signed_at TEXT    NOT NULL,
  signature BLOB    NOT NULL,  -- ECDSA, DER
  cert_ref  TEXT    NOT NULL,  -- SHA-256 of the SIG certificate DER, lower-case hex
  PRIMARY KEY (log, stream, seq, kind)
) WITHOUT ROWID;

-- Certificates that signed heads, by SHA-256 of their DER.
CREATE TABLE certificates (
  ref TEXT PRIMARY KEY,
  der BLOB NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    version: 2,
    name: 'outbox message IDs, summaries and delivery time, TAF watermarks, interval values by end',
    sql: `
-- The sender's message ID (idempotent enqueue, receipts) and when the item was delivered
-- (retention of delivered items counts from here). NULL on rows written before version 2.
-- ALTER TABLE cannot add a UNIQUE column, so uniqueness is a unique index: same effect,
-- NULLs stay distinct.
ALTER TABLE outbox ADD COLUMN message_id TEXT;
ALTER TABLE outbox ADD COLUMN delivered_ms INTEGER;
-- What the item carries in plain words ('96 quarter-hour values of 23 Nov 2026 (TAF 7)'): the
-- payload is encrypted to its recipient, so the consumer-log entry of its delivery is worded from this.
ALTER TABLE outbox ADD COLUMN summary TEXT;
CREATE UNIQUE INDEX outbox_message_id ON outbox (message_id);

-- Per tariff profile: the instant up to which its readings were turned into results.
-- Only moves forward; retention keeps every reading at or after the smallest one.
CREATE TABLE taf_watermarks (
  profile    TEXT    PRIMARY KEY,
  until_ms   INTEGER NOT NULL,  -- ms since 1970 UTC
  updated_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Retention deletes interval values by end time.
CREATE INDEX interval_values_by_end ON interval_values (end_ms);
`,
  },
  {
    version: 3,
    name: 'readings indexed by time first',
    sql: `
-- Readings of many meters arrive interleaved and in time order. An index led by the meter put
-- every batch's entries on one leaf page per (meter, quantity) series, so each commit wrote
-- hundreds of index pages to the WAL (bench ingest: 3× slower with 100 meters). Led by time,
-- a batch touches the index's tail only. Every query gives a time range (TAF tolerance
-- windows, retention cutoffs, history pages) and filters meter and quantity inside the index.
DROP INDEX readings_by_meter;
DROP INDEX readings_by_time;
CREATE INDEX readings_by_time_meter ON readings (time_ms, meter_id, quantity);
`,
  },
  {
    version: 4,
    name: 'HAN accounts, sessions, tokens, consents and consumer requests',
    sql: `
-- The HAN service (README "HAN service"). Accounts: consumers (bound to one consumer ID, the
-- \`consumer\` of meters in the configuration) and service technicians. The password is
-- 'scrypt$N$r$p$salt$hash' (hex), never the password. failures / locked_until_ms / lockouts:
-- the login lockout (5 failures → 15 min, doubling with every further lockout).
CREATE TABLE han_accounts (
  username        TEXT    PRIMARY KEY,
  role            TEXT    NOT NULL CHECK (role IN ('consumer', 'technician')),
  consumer        TEXT,
  password        TEXT    NOT NULL,
  created_ms      INTEGER NOT NULL,
  failures        INTEGER NOT NULL DEFAULT 0,
  locked_until_ms INTEGER NOT NULL DEFAULT 0,
  lockouts        INTEGER NOT NULL DEFAULT 0,
  CHECK ((role = 'consumer') = (consumer IS NOT NULL))
) WITHOUT ROWID;

-- Sessions by SHA-256 of the 256-bit session ID (the ID itself is only in the browser's cookie).
CREATE TABLE han_sessions (
  id_hash    TEXT    PRIMARY KEY,
  username   TEXT    NOT NULL REFERENCES han_accounts (username) ON DELETE CASCADE,
  csrf       TEXT    NOT NULL,
  created_ms INTEGER NOT NULL,
  seen_ms    INTEGER NOT NULL
) WITHOUT ROWID;

-- Read-only API tokens for home automation, by SHA-256 of the token.
CREATE TABLE han_tokens (
  id         TEXT    PRIMARY KEY,
  username   TEXT    NOT NULL REFERENCES han_accounts (username) ON DELETE CASCADE,
  name       TEXT    NOT NULL,
  token_hash TEXT    NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- A consumer's consent per purpose (tariff profile ID); no row: as set up with the contract (granted).
CREATE TABLE han_consents (
  consumer TEXT    NOT NULL,
  purpose  TEXT    NOT NULL,
  granted  INTEGER NOT NULL CHECK (granted IN (0, 1)),
  since_ms INTEGER NOT NULL,
  PRIMARY KEY (consumer, purpose)
) WITHOUT ROWID;

-- Data-subject requests (GDPR Art. 16, 17, 21) and tariff choices, applied by the administrator.
CREATE TABLE han_requests (
  id         INTEGER PRIMARY KEY,
  consumer   TEXT    NOT NULL,
  kind       TEXT    NOT NULL CHECK (kind IN ('deletion', 'rectification', 'objection', 'tariff-choice')),
  state      TEXT    NOT NULL CHECK (state IN ('received', 'pending', 'in-progress', 'done', 'rejected')),
  text       TEXT    NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX han_requests_by_consumer ON han_requests (consumer, id);
`,
  },
  {
    version: 5,
    name: 'administration state',
    sql: `
-- What the administration must remember across restarts (docs/admin-protocol.md): the last
-- accepted wake-up counter and command sequence (replay protection), the active configuration
-- version. Small named values, written one at a time.
CREATE TABLE admin_state (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    version: 6,
    name: 'consumer requests forwarded to and answered by the administrator',
    sql: `
-- The administrator's side of a consumer request (docs/admin-protocol.md, the report's
-- \`requests\` and \`answer-request\`): when the GWA accepted the report that carried it (the
-- state became 'pending'), when it last answered, and its note to the consumer. NULL on the
-- rows of version 5 (not forwarded, not answered).
ALTER TABLE han_requests ADD COLUMN forwarded_ms INTEGER;
ALTER TABLE han_requests ADD COLUMN answered_ms INTEGER;
ALTER TABLE han_requests ADD COLUMN note TEXT;
-- Every report reads the open requests of all consumers, oldest first: the closed ones
-- (most rows, in time) are not in this index at all.
CREATE INDEX han_requests_open ON han_requests (id) WHERE state IN ('received', 'pending', 'in-progress');
`,
  },
]
