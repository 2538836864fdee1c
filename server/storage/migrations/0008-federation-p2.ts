/**
 * 0008 (second part, appended to 0008-federation by migrations/index.ts): E2EE over federation
 * and OpenID. Spec: server-server-api "Device Management", "Send-to-device messaging", "OpenID";
 * client-server-api "OpenID".
 *
 * - The device lists of remote users we share a room with, cached (spec: "populate a local cache
 *   … subsequent updates to the cache should be applied by consuming m.device_list_update EDUs"):
 *   the last applied stream_id per user and whether the copy must be refetched; the devices
 *   themselves. Their cross-signing keys go to e2e_cross_signing_keys (0007), where local users'
 *   signatures over them are checked.
 * - Our side of the sequence, per local user: how far the device list stream (0007) has been
 *   turned into EDUs, and the stream_id of the last m.device_list_update sent (the next one's
 *   prev_id). An EDU's stream_id is the position of its row in e2e_device_list_stream.
 * - m.direct_to_device message IDs already delivered, per origin, so a retried EDU is not
 *   delivered twice (the spec's "used for idempotence").
 * - OpenID tokens handed to local users (POST /user/{userId}/openid/request_token).
 */
export default /* sql */ `
CREATE TABLE federation_remote_device_lists (
  user_id      TEXT PRIMARY KEY,
  server_name  TEXT NOT NULL,
  -- The stream_id of the snapshot or last EDU applied.
  stream_id    INTEGER NOT NULL,
  -- 1: a gap was seen (unknown prev_id) or the copy may be outdated; refetch before use.
  stale        INTEGER NOT NULL DEFAULT 0,
  fetched_ts   INTEGER NOT NULL
) STRICT;

CREATE TABLE federation_remote_devices (
  user_id       TEXT NOT NULL,
  device_id     TEXT NOT NULL,
  -- The device keys as the origin sent them (signed by the device); NULL: the device has none.
  key_json      TEXT,
  display_name  TEXT,
  PRIMARY KEY (user_id, device_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE federation_device_list_outbound (
  user_id         TEXT PRIMARY KEY,
  -- Rows of e2e_device_list_stream up to here have been turned into EDUs.
  last_stream_id  INTEGER NOT NULL,
  -- The stream_id of the last m.device_list_update sent (the next one's prev_id); NULL: none yet.
  last_edu_id     INTEGER
) STRICT;

CREATE TABLE federation_to_device_seen (
  origin       TEXT NOT NULL,
  message_id   TEXT NOT NULL,
  received_ts  INTEGER NOT NULL,
  PRIMARY KEY (origin, message_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX federation_to_device_seen_ts ON federation_to_device_seen(received_ts);

CREATE TABLE openid_tokens (
  token       TEXT PRIMARY KEY,
  user_id     TEXT NOT NULL,
  expires_ts  INTEGER NOT NULL
) STRICT;
CREATE INDEX openid_tokens_expiry ON openid_tokens(expires_ts);
`;
