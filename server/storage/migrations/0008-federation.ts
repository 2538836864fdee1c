/**
 * 0008: federation. Spec: server-server-api "Retrieving server keys", "Transactions",
 * "Request Authentication".
 *
 * - Remote servers' signing keys: the latest self-signed key response of each server as received
 *   (a notary serves it on, countersigned) and its keys by ID (current and old) for verifying
 *   events and requests.
 * - Our own retired signing keys (listed under old_verify_keys after a rotation).
 * - Destinations: retry/backoff state per remote server and the transaction in flight.
 * - The outbox: PDUs (by event ID, the JSON lives in `events`) and EDUs queued per destination,
 *   written in the same transaction as the event or update they carry, so nothing is lost
 *   across restarts.
 * - Inbound transactions already processed (origin, txn ID) with the response sent, so a
 *   retried transaction is answered without being processed twice.
 */
export default /* sql */ `
CREATE TABLE server_key_responses (
  server_name     TEXT PRIMARY KEY,
  -- The response of GET /_matrix/key/v2/server on that server (self-signed), verbatim.
  json            TEXT NOT NULL,
  valid_until_ts  INTEGER NOT NULL,
  fetched_ts      INTEGER NOT NULL
) STRICT;

CREATE TABLE server_verify_keys (
  server_name     TEXT NOT NULL,
  key_id          TEXT NOT NULL,
  -- Unpadded base64 ed25519 public key.
  public_key      TEXT NOT NULL,
  -- Effective validity of a current key (min(valid_until_ts, fetched + 7 days)); NULL for old keys.
  valid_until_ts  INTEGER,
  -- old_verify_keys[…].expired_ts; NULL for current keys.
  expired_ts      INTEGER,
  fetched_ts      INTEGER NOT NULL,
  PRIMARY KEY (server_name, key_id)
) STRICT;

CREATE TABLE own_old_signing_keys (
  key_id      TEXT PRIMARY KEY,
  public_key  TEXT NOT NULL,
  expired_ts  INTEGER NOT NULL
) STRICT;

CREATE TABLE destinations (
  server_name      TEXT PRIMARY KEY,
  -- Consecutive failed attempts; 0 when the last attempt succeeded.
  failures         INTEGER NOT NULL DEFAULT 0,
  -- No attempt before this time (ms) unless the server wakes us by talking to us.
  retry_at         INTEGER NOT NULL DEFAULT 0,
  last_success_ts  INTEGER,
  -- When the current run of failures began (NULL while the destination is healthy).
  failing_since    INTEGER,
  last_error       TEXT,
  -- The transaction being delivered (its outbox rows carry the same txn_id): a retry resends it
  -- with the same ID, so the receiver deduplicates it even across our restarts.
  pending_txn      TEXT
) STRICT;

CREATE TABLE federation_outbox (
  id           INTEGER PRIMARY KEY,
  destination  TEXT NOT NULL,
  kind         TEXT NOT NULL CHECK (kind IN ('pdu', 'edu')),
  -- PDUs: the event (JSON read from events at send time).
  event_id     TEXT,
  -- EDUs: the EDU object {edu_type, content}.
  json         TEXT,
  -- EDUs that supersede each other (typing, presence, receipts) share a key; a new one replaces
  -- a queued one not yet in a transaction.
  edu_key      TEXT,
  txn_id       TEXT,
  created_ts   INTEGER NOT NULL
) STRICT;
CREATE INDEX federation_outbox_dest ON federation_outbox(destination, kind, id);
CREATE INDEX federation_outbox_key ON federation_outbox(destination, edu_key) WHERE edu_key IS NOT NULL;
CREATE INDEX federation_outbox_txn ON federation_outbox(destination, txn_id) WHERE txn_id IS NOT NULL;

CREATE TABLE federation_inbound_txns (
  origin       TEXT NOT NULL,
  txn_id       TEXT NOT NULL,
  response     TEXT NOT NULL,
  received_ts  INTEGER NOT NULL,
  PRIMARY KEY (origin, txn_id)
) STRICT;
CREATE INDEX federation_inbound_txns_ts ON federation_inbound_txns(received_ts);
`;
