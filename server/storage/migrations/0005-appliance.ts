/**
 * 0005: the appliance: setup wizard state, certificate history, system samples for the
 * dashboard's 24-hour charts. Certificates and keys themselves are files in DATA_DIR/tls
 * (mode 0600 keys); these tables only record what happened, for the dashboard and retries.
 */
export default /* sql */ `
-- One row: where the setup wizard is. Kept server-side so a reload or a second browser resumes.
CREATE TABLE appliance_setup (
  id                  INTEGER PRIMARY KEY CHECK (id = 1),
  step                TEXT NOT NULL DEFAULT 'welcome',
  mode                TEXT,                  -- 'new' | 'restore'
  admin_localpart     TEXT,
  -- scrypt hash of the chosen admin password, held only until the server name is chosen
  -- (a user ID embeds the server name); cleared once the account exists.
  admin_password_hash TEXT,
  admin_user_id       TEXT,                  -- set once the account exists
  server_name         TEXT,
  public_host         TEXT,                  -- host[:port] clients and servers reach us on
  challenge           TEXT,                  -- 'http-01' | 'dns-01'
  acme_email          TEXT,
  delegation_ok_ts    INTEGER,
  selftest_ok_ts      INTEGER,
  completed_ts        INTEGER,
  updated_ts          INTEGER NOT NULL
) STRICT;

-- Every attempt to obtain or renew a certificate: the dashboard shows the last renewal and
-- the last error; the renewal timer backs off from consecutive failures.
CREATE TABLE cert_attempts (
  id              INTEGER PRIMARY KEY,
  domain          TEXT NOT NULL,
  reason          TEXT NOT NULL,             -- 'wizard' | 'renewal' | 'forced' | 'cli'
  directory_url   TEXT NOT NULL,
  challenge       TEXT NOT NULL,
  started_ts      INTEGER NOT NULL,
  finished_ts     INTEGER,
  ok              INTEGER,                   -- NULL while running
  error           TEXT,
  serial          TEXT,
  not_after_ts    INTEGER
) STRICT;
CREATE INDEX cert_attempts_domain_ts ON cert_attempts(domain, started_ts);

-- One row per sample (every few minutes); rows older than a day are pruned.
CREATE TABLE system_samples (
  ts          INTEGER PRIMARY KEY,
  cpu_load    REAL,                          -- percent, 0-100
  mem_used    INTEGER,                       -- bytes in use by programs (not cache)
  mem_total   INTEGER,
  temp_c      REAL,                          -- NULL when the board reports none
  disk_used   INTEGER,                       -- bytes on the data directory's file system
  disk_total  INTEGER
) STRICT;
`;
