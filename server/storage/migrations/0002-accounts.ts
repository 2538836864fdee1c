/**
 * 0002: client-server accounts: devices, access/refresh/login tokens, registration tokens,
 * push rules, content reports. Tokens are stored as SHA-256 hashes so a copied database or
 * backup cannot be used to impersonate anyone.
 */
export default /* sql */ `
CREATE TABLE devices (
  user_id       TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  device_id     TEXT NOT NULL,
  display_name  TEXT,
  created_ts    INTEGER NOT NULL,
  last_seen_ts  INTEGER,
  last_seen_ip  TEXT,
  last_seen_user_agent TEXT,
  PRIMARY KEY (user_id, device_id)
) STRICT;

-- One row per live access token. expires_ts is set only for refreshable tokens (spec: "Refreshing
-- access tokens"); an expired row is kept for a while so the server can answer soft_logout: true.
CREATE TABLE access_tokens (
  token_hash    TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL,
  device_id     TEXT NOT NULL,
  created_ts    INTEGER NOT NULL,
  expires_ts    INTEGER,
  -- The refresh token issued together with this access token (refreshing it replaces both).
  refresh_hash  TEXT,
  -- The refresh token that was used to obtain this access token: it stays valid until this
  -- access token is first used (spec: the old refresh token remains valid until the new access
  -- token or refresh token is used).
  prev_refresh_hash TEXT,
  FOREIGN KEY (user_id, device_id) REFERENCES devices(user_id, device_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX access_tokens_device ON access_tokens(user_id, device_id);
CREATE INDEX access_tokens_refresh ON access_tokens(refresh_hash) WHERE refresh_hash IS NOT NULL;

CREATE TABLE refresh_tokens (
  token_hash    TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL,
  device_id     TEXT NOT NULL,
  created_ts    INTEGER NOT NULL,
  -- The refresh token this one replaced; deleted when this one is first used.
  prev_hash     TEXT,
  FOREIGN KEY (user_id, device_id) REFERENCES devices(user_id, device_id) ON DELETE CASCADE
) STRICT;
CREATE INDEX refresh_tokens_device ON refresh_tokens(user_id, device_id);

-- Short-lived single-use tokens for m.login.token (POST /login/get_token).
CREATE TABLE login_tokens (
  token_hash    TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  expires_ts    INTEGER NOT NULL
) STRICT;

-- Admin-managed registration tokens (spec: m.login.registration_token). uses_allowed NULL =
-- unlimited; pending counts UIA sessions that completed the stage but not yet registered.
CREATE TABLE registration_tokens (
  token         TEXT PRIMARY KEY,
  uses_allowed  INTEGER,
  pending       INTEGER NOT NULL DEFAULT 0,
  completed     INTEGER NOT NULL DEFAULT 0,
  expiry_ts     INTEGER,
  created_ts    INTEGER NOT NULL
) STRICT;

-- User-defined push rules and the user's changes to server-default rules (spec: push rules).
-- priority orders rules inside one kind: higher first.
CREATE TABLE push_rules (
  user_id       TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  kind          TEXT NOT NULL,
  rule_id       TEXT NOT NULL,
  priority      INTEGER NOT NULL,
  conditions    TEXT,
  pattern       TEXT,
  actions       TEXT NOT NULL,
  enabled       INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (user_id, kind, rule_id)
) STRICT;

-- A user's enabled/actions changes to server-default rules (NULL = unchanged).
CREATE TABLE push_rule_default_changes (
  user_id       TEXT NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  kind          TEXT NOT NULL,
  rule_id       TEXT NOT NULL,
  enabled       INTEGER,
  actions       TEXT,
  PRIMARY KEY (user_id, kind, rule_id)
) STRICT;

CREATE TABLE content_reports (
  report_id     INTEGER PRIMARY KEY,
  reporter      TEXT NOT NULL,
  room_id       TEXT,
  event_id      TEXT,
  target_user   TEXT,
  reason        TEXT,
  received_ts   INTEGER NOT NULL
) STRICT;
CREATE INDEX content_reports_ts ON content_reports(received_ts);
`;
