/**
 * 0006: backups — the history of backup, check and restore runs (shown on the dashboard) and the
 * backup settings chosen in the wizard or dashboard. Secrets (the passphrase, S3 keys) are never
 * stored here but in DATA_DIR/secrets/, readable only by the service user.
 */
export default /* sql */ `
CREATE TABLE backup_runs (
  run_id        INTEGER PRIMARY KEY,
  kind          TEXT NOT NULL CHECK (kind IN ('backup', 'check', 'restore')),
  -- what started it: schedule | manual (dashboard) | cli | wizard
  trigger       TEXT NOT NULL,
  -- restic repository string; never contains credentials
  repo          TEXT NOT NULL,
  started_ts    INTEGER NOT NULL,
  finished_ts   INTEGER,
  status        TEXT NOT NULL CHECK (status IN ('running', 'ok', 'warning', 'failed', 'interrupted')),
  error         TEXT,
  snapshot_id   TEXT,
  -- restores: when the restored snapshot was taken (messages after it are not in it)
  snapshot_ts   INTEGER,
  files         INTEGER,
  -- size of the data set backed up, and the new data this run uploaded
  bytes         INTEGER,
  bytes_added   INTEGER,
  -- size of the whole repository after the run (deduplicated, compressed)
  repo_bytes    INTEGER,
  -- the automatic restore drill after a backup
  drill_status  TEXT CHECK (drill_status IN ('ok', 'failed')),
  drill_detail  TEXT,
  drill_ts      INTEGER
) STRICT;
CREATE INDEX backup_runs_kind_started ON backup_runs(kind, started_ts);

-- One row: settings made in the wizard/dashboard. Options set in the config file win over these.
CREATE TABLE backup_settings (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  repo          TEXT,
  bucket_lookup TEXT CHECK (bucket_lookup IN ('auto', 'dns', 'path')),
  region        TEXT,
  -- daily time HH:MM (server local time), or 'off'
  schedule      TEXT,
  keep_daily    INTEGER,
  keep_weekly   INTEGER,
  keep_monthly  INTEGER,
  updated_ts    INTEGER NOT NULL
) STRICT;
`;
