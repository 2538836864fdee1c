/**
 * 0007: end-to-end encryption. Spec: client-server-api "End-to-End Encryption", "Send-to-Device
 * messaging", "Server-side key backups".
 *
 * No foreign keys to `devices`: the same tables will hold remote users' keys (federation) and a
 * local device's rows are removed by the device-deleted hook in the same transaction.
 *
 * Streams (positions a sync token carries):
 * - `e2e_device_list_stream.stream_id`: a user's device list or cross-signing keys changed.
 * - `e2e_to_device.stream_id`: the to-device inbox (rows live until the device acknowledges them).
 */
export default /* sql */ `
-- Device identity keys as uploaded (signed by the device itself). Cross-signing signatures made
-- later are kept in e2e_cross_signing_signatures and merged in when served.
CREATE TABLE e2e_device_keys (
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  -- The device's ed25519 key (unpadded base64): verifies its one-time keys and signatures.
  ed25519     TEXT NOT NULL,
  key_json    TEXT NOT NULL,
  added_ts    INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id)
) STRICT;

-- One-time keys. id orders them by upload ("One-time keys are given out in the order that they
-- were uploaded").
CREATE TABLE e2e_one_time_keys (
  id          INTEGER PRIMARY KEY,
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  algorithm   TEXT NOT NULL,
  key_id      TEXT NOT NULL,
  key_json    TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX e2e_one_time_keys_key ON e2e_one_time_keys(user_id, device_id, algorithm, key_id);
CREATE INDEX e2e_one_time_keys_claim ON e2e_one_time_keys(user_id, device_id, algorithm, id);

-- At most one fallback key per device and algorithm; it stays after a claim but is marked used.
CREATE TABLE e2e_fallback_keys (
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  algorithm   TEXT NOT NULL,
  key_id      TEXT NOT NULL,
  key_json    TEXT NOT NULL,
  used        INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, device_id, algorithm)
) STRICT;

-- Every change of a user's device list (device keys added/removed) or cross-signing keys.
-- device_id NULL: a cross-signing change. Read by /sync device_lists and /keys/changes.
-- only_for: the change concerns only that user (their user-signing key signed user_id's master
-- key, a signature nobody else may see), so only their devices hear about it.
CREATE TABLE e2e_device_list_stream (
  stream_id   INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id     TEXT NOT NULL,
  device_id   TEXT,
  only_for    TEXT,
  ts          INTEGER NOT NULL
) STRICT;
CREATE INDEX e2e_device_list_stream_user ON e2e_device_list_stream(user_id, stream_id);

-- Cross-signing public keys: master, self_signing, user_signing.
CREATE TABLE e2e_cross_signing_keys (
  user_id     TEXT NOT NULL,
  key_type    TEXT NOT NULL CHECK (key_type IN ('master', 'self_signing', 'user_signing')),
  public_key  TEXT NOT NULL,
  key_json    TEXT NOT NULL,
  added_ts    INTEGER NOT NULL,
  PRIMARY KEY (user_id, key_type)
) STRICT;
CREATE INDEX e2e_cross_signing_keys_public ON e2e_cross_signing_keys(public_key);

-- Signatures uploaded with /keys/signatures/upload: signer (user and key ID) over a target
-- (a device ID, or a master key's public key). Who may see which: see cross-signing-store.ts.
CREATE TABLE e2e_cross_signing_signatures (
  signer_user_id  TEXT NOT NULL,
  signer_key_id   TEXT NOT NULL,
  target_user_id  TEXT NOT NULL,
  target_key_id   TEXT NOT NULL,
  signature       TEXT NOT NULL,
  PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
) STRICT, WITHOUT ROWID;

-- The to-device inbox, in order of arrival (stream_id). Deleted once acknowledged.
CREATE TABLE e2e_to_device (
  -- AUTOINCREMENT: positions are never reused after the inbox empties (tokens stay monotonic).
  stream_id   INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  sender      TEXT NOT NULL,
  type        TEXT NOT NULL,
  content     TEXT NOT NULL,
  ts          INTEGER NOT NULL
) STRICT;
CREATE INDEX e2e_to_device_inbox ON e2e_to_device(user_id, device_id, stream_id);

-- Transaction IDs of /sendToDevice, per sending device (idempotent retries).
CREATE TABLE e2e_to_device_txns (
  user_id     TEXT NOT NULL,
  device_id   TEXT NOT NULL,
  txn_id      TEXT NOT NULL,
  ts          INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX e2e_to_device_txns_ts ON e2e_to_device_txns(ts);

-- Server-side key backup versions. Versions count up per user; deleted ones are kept (flagged)
-- so the number is never reused and deleting twice still succeeds.
CREATE TABLE e2e_backup_versions (
  user_id     TEXT NOT NULL,
  version     INTEGER NOT NULL,
  algorithm   TEXT NOT NULL,
  auth_data   TEXT NOT NULL,
  etag        INTEGER NOT NULL DEFAULT 0,
  deleted     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, version)
) STRICT;

CREATE TABLE e2e_backup_keys (
  user_id              TEXT NOT NULL,
  version              INTEGER NOT NULL,
  room_id              TEXT NOT NULL,
  session_id           TEXT NOT NULL,
  first_message_index  INTEGER NOT NULL,
  forwarded_count      INTEGER NOT NULL,
  is_verified          INTEGER NOT NULL,
  session_data         TEXT NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id)
) STRICT;

-- MSC3814 dehydrated devices: at most one per user. The device itself is a row in \`devices\`
-- (with keys here like any device); device_data is the client's encrypted pickle.
CREATE TABLE e2e_dehydrated_devices (
  user_id      TEXT PRIMARY KEY,
  device_id    TEXT NOT NULL,
  device_data  TEXT NOT NULL,
  created_ts   INTEGER NOT NULL
) STRICT;
`;
