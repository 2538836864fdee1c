/**
 * 0003: client-server rooms: rooms, events (real PDUs), the event graph, state groups, current
 * state, aliases, account data, receipts, relations, push actions, filters, full-text search.
 *
 * Stream positions: `events.stream_ordering` is the global order clients see (sync, /messages);
 * `account_data.stream_id` and `receipts.stream_id` are their own streams (see
 * services/sync/token.ts). State is stored as state groups with deltas (like Synapse): an event's
 * state is a group, a group is its `prev_group` plus a few entries; every ~100 deltas a full
 * snapshot bounds the walk.
 */
/**
 * Rows derived from an event once it is part of the timeline: relations, and the search index
 * for backfilled history. Shared by the insert trigger and the outlier-promotion trigger, since
 * SQLite triggers cannot call a common body.
 */
const ACCEPTED_EVENT_ROWS = /* sql */ `  -- Relations: content["m.relates_to"] with a string rel_type and event_id.
  INSERT OR IGNORE INTO relations (event_id, relates_to, rel_type, room_id, sender, type, aggregation_key, stream_ordering)
    SELECT NEW.event_id, j.target, j.rel_type, NEW.room_id, NEW.sender, NEW.type,
           CASE WHEN j.rel_type = 'm.annotation' AND json_type(NEW.json, '$.content."m.relates_to".key') = 'text'
                THEN json_extract(NEW.json, '$.content."m.relates_to".key') END,
           NEW.stream_ordering
      FROM (SELECT json_extract(NEW.json, '$.content."m.relates_to".event_id') AS target,
                   json_extract(NEW.json, '$.content."m.relates_to".rel_type') AS rel_type,
                   json_type(NEW.json, '$.content."m.relates_to".event_id') AS tt,
                   json_type(NEW.json, '$.content."m.relates_to".rel_type') AS rt) AS j
     WHERE j.tt = 'text' AND j.rt = 'text' AND j.target <> NEW.event_id;
  UPDATE events SET has_relations = 1
   WHERE has_relations = 0 AND event_id = (SELECT relates_to FROM relations WHERE event_id = NEW.event_id);
  -- The search index, here only for backfilled history (negative positions); new events are
  -- indexed in batches by the search indexer (services/search-indexer.ts), which saves each
  -- message its own FTS segment write.
  INSERT INTO event_search (rowid, body, name, topic)
    SELECT NEW.stream_ordering,
           CASE WHEN NEW.type = 'm.room.message' THEN json_extract(NEW.json, '$.content.body') END,
           CASE WHEN NEW.type = 'm.room.name' THEN json_extract(NEW.json, '$.content.name') END,
           CASE WHEN NEW.type = 'm.room.topic' THEN json_extract(NEW.json, '$.content.topic') END
     WHERE NEW.stream_ordering < 0 AND (
           (NEW.type = 'm.room.message' AND json_type(NEW.json, '$.content.body') = 'text')
        OR (NEW.type = 'm.room.name' AND json_type(NEW.json, '$.content.name') = 'text')
        OR (NEW.type = 'm.room.topic' AND json_type(NEW.json, '$.content.topic') = 'text'));
`;

export default /* sql */ `
CREATE TABLE rooms (
  room_id       TEXT PRIMARY KEY,
  room_version  TEXT NOT NULL,
  creator       TEXT NOT NULL,
  created_ts    INTEGER NOT NULL,
  -- Listed in the public room directory (/directory/list/room).
  is_public     INTEGER NOT NULL DEFAULT 0,
  -- State after the forward extremities: the room's current state.
  state_group   INTEGER
) STRICT;
CREATE INDEX rooms_public ON rooms(is_public) WHERE is_public = 1;

CREATE TABLE events (
  -- Global stream position (sync tokens, /messages). Backfilled events may get negative values.
  stream_ordering  INTEGER PRIMARY KEY,
  event_id         TEXT NOT NULL UNIQUE,
  room_id          TEXT NOT NULL,
  depth            INTEGER NOT NULL,
  type             TEXT NOT NULL,
  state_key        TEXT,
  sender           TEXT NOT NULL,
  origin_server_ts INTEGER NOT NULL,
  -- The PDU as signed (federation format, no event_id for v3+, no unsigned), unredacted.
  json             TEXT NOT NULL,
  -- Server-side unsigned data known at persist time: replaces_state, prev_content, prev_sender.
  unsigned_json    TEXT,
  -- State groups of the state before and after this event (equal for non-state events).
  state_before     INTEGER,
  state_after      INTEGER,
  outlier          INTEGER NOT NULL DEFAULT 0,
  -- Why the auth rules rejected the event; NULL if accepted.
  rejected         TEXT,
  -- The m.room.redaction that redacted this event (served redacted from then on).
  redacted_by      TEXT,
  -- The device and transaction ID a local client sent it with (idempotency, unsigned.transaction_id).
  device_id        TEXT,
  txn_id           TEXT,
  -- 1 if some event relates to this one (m.relations aggregation is looked up only then).
  has_relations    INTEGER NOT NULL DEFAULT 0,
  -- The thread root for events in a thread (m.relates_to rel_type m.thread), for threaded receipts.
  thread_id        TEXT,
  -- Transient: push rule results [[user_id, highlight 0|1], …] handed to the events_push
  -- trigger, which moves them into event_push_actions and clears this column.
  push_actions     TEXT
) STRICT;
CREATE INDEX events_room ON events(room_id, stream_ordering);
CREATE INDEX events_membership ON events(state_key, stream_ordering) WHERE type = 'm.room.member';
CREATE UNIQUE INDEX events_txn ON events(sender, device_id, txn_id) WHERE txn_id IS NOT NULL;

-- The event graph: prev_events of each event (filled by the events_graph trigger below).
CREATE TABLE event_edges (
  event_id      TEXT NOT NULL,
  prev_event_id TEXT NOT NULL,
  PRIMARY KEY (event_id, prev_event_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX event_edges_prev ON event_edges(prev_event_id);

CREATE TABLE forward_extremities (
  room_id   TEXT NOT NULL,
  event_id  TEXT NOT NULL,
  PRIMARY KEY (room_id, event_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE state_groups (
  id          INTEGER PRIMARY KEY,
  room_id     TEXT NOT NULL,
  -- The group this one is a delta on (NULL: entries are the full state).
  prev_group  INTEGER,
  delta_depth INTEGER NOT NULL
) STRICT;

CREATE TABLE state_group_entries (
  state_group INTEGER NOT NULL,
  type        TEXT NOT NULL,
  state_key   TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  -- content.membership of m.room.member entries, so loading a group yields the member list.
  membership  TEXT,
  PRIMARY KEY (state_group, type, state_key)
) STRICT, WITHOUT ROWID;

-- The room's current state, for indexed lookups ("rooms of a user", members, directory).
CREATE TABLE current_state (
  room_id     TEXT NOT NULL,
  type        TEXT NOT NULL,
  state_key   TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  membership  TEXT,
  PRIMARY KEY (room_id, type, state_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX current_state_members ON current_state(state_key, membership) WHERE type = 'm.room.member';

CREATE TABLE forgotten_rooms (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  PRIMARY KEY (user_id, room_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE room_aliases (
  alias    TEXT PRIMARY KEY,
  room_id  TEXT NOT NULL,
  creator  TEXT NOT NULL
) STRICT;
CREATE INDEX room_aliases_room ON room_aliases(room_id);

-- Global (room_id = '') and per-room account data. stream_id: the account data stream.
CREATE TABLE account_data (
  user_id    TEXT NOT NULL,
  room_id    TEXT NOT NULL,
  type       TEXT NOT NULL,
  content    TEXT NOT NULL,
  stream_id  INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
) STRICT;
CREATE INDEX account_data_stream ON account_data(user_id, stream_id);

-- Latest receipt per (room, type, user, thread); thread_id '' = unthreaded.
CREATE TABLE receipts (
  room_id       TEXT NOT NULL,
  receipt_type  TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  thread_id     TEXT NOT NULL,
  event_id      TEXT NOT NULL,
  event_stream  INTEGER NOT NULL,
  ts            INTEGER NOT NULL,
  stream_id     INTEGER NOT NULL,
  PRIMARY KEY (room_id, receipt_type, user_id, thread_id)
) STRICT;
CREATE INDEX receipts_stream ON receipts(stream_id);

-- m.relates_to of every accepted event that has one.
CREATE TABLE relations (
  event_id        TEXT PRIMARY KEY,
  relates_to      TEXT NOT NULL,
  rel_type        TEXT NOT NULL,
  room_id         TEXT NOT NULL,
  sender          TEXT NOT NULL,
  type            TEXT NOT NULL,
  aggregation_key TEXT,
  stream_ordering INTEGER NOT NULL
) STRICT;
CREATE INDEX relations_target ON relations(relates_to, rel_type, stream_ordering);
CREATE INDEX relations_threads ON relations(room_id, rel_type, stream_ordering);

-- Which events notify which local users (push rule evaluation), for unread counts.
CREATE TABLE event_push_actions (
  user_id         TEXT NOT NULL,
  room_id         TEXT NOT NULL,
  stream_ordering INTEGER NOT NULL,
  highlight       INTEGER NOT NULL,
  thread_id       TEXT NOT NULL,
  PRIMARY KEY (user_id, room_id, stream_ordering)
) STRICT, WITHOUT ROWID;

-- Unread counts per (user, room, thread), kept by triggers on event_push_actions: a read receipt
-- deletes the actions it covers, so the counters are the unread notifications.
CREATE TABLE event_push_counts (
  user_id     TEXT NOT NULL,
  room_id     TEXT NOT NULL,
  thread_id   TEXT NOT NULL,
  notifs      INTEGER NOT NULL,
  highlights  INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, thread_id)
) STRICT, WITHOUT ROWID;
CREATE TRIGGER push_counts_add AFTER INSERT ON event_push_actions BEGIN
  INSERT INTO event_push_counts (user_id, room_id, thread_id, notifs, highlights)
    VALUES (NEW.user_id, NEW.room_id, NEW.thread_id, 1, NEW.highlight)
    ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET notifs = notifs + 1, highlights = highlights + excluded.highlights;
END;
CREATE TRIGGER push_counts_remove AFTER DELETE ON event_push_actions BEGIN
  UPDATE event_push_counts SET notifs = notifs - 1, highlights = highlights - OLD.highlight
   WHERE user_id = OLD.user_id AND room_id = OLD.room_id AND thread_id = OLD.thread_id;
END;

CREATE TABLE user_filters (
  user_id    TEXT NOT NULL,
  filter_id  INTEGER NOT NULL,
  json       TEXT NOT NULL,
  PRIMARY KEY (user_id, filter_id)
) STRICT;

-- How far (events stream position) the search indexer has indexed.
CREATE TABLE search_position (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  pos  INTEGER NOT NULL
) STRICT;
INSERT INTO search_position (id, pos) VALUES (1, 0);

-- Full-text index of content.body / content.name / content.topic (contentless: rowid =
-- events.stream_ordering; deletable so redacted events leave the index).
CREATE VIRTUAL TABLE event_search USING fts5(body, name, topic, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');

-- Derived rows are written by triggers so persisting an event is ONE statement from JavaScript
-- (each statement is an async hop to the SQLite thread; a message used to need five):
-- the event graph for timeline events; for accepted timeline events (inserted, or promoted from
-- outlier) relations and the search index. v1–v2 prev_events are [event_id, hashes] pairs, v3+
-- plain IDs. (Forward extremities are written by the event writer from its in-memory heads:
-- federation computes them with state resolution and backfill must not touch them.)
-- Outliers (events known only as auth events or out-of-band memberships) are not part of our
-- copy of the graph: no edges, so they do not look like gaps to backfill from.
CREATE TRIGGER events_graph AFTER INSERT ON events WHEN NEW.outlier = 0 BEGIN
  INSERT OR IGNORE INTO event_edges (event_id, prev_event_id)
    SELECT NEW.event_id, CASE WHEN p.type = 'array' THEN json_extract(p.value, '$[0]') ELSE p.value END
      FROM json_each(NEW.json, '$.prev_events') AS p;
END;

CREATE TRIGGER events_accepted AFTER INSERT ON events WHEN NEW.outlier = 0 AND NEW.rejected IS NULL
BEGIN
${ACCEPTED_EVENT_ROWS}END;

-- The same for an outlier that later takes its place in the timeline (federation).
CREATE TRIGGER events_promoted_graph AFTER UPDATE OF outlier ON events WHEN OLD.outlier = 1 AND NEW.outlier = 0 BEGIN
  INSERT OR IGNORE INTO event_edges (event_id, prev_event_id)
    SELECT NEW.event_id, CASE WHEN p.type = 'array' THEN json_extract(p.value, '$[0]') ELSE p.value END
      FROM json_each(NEW.json, '$.prev_events') AS p;
END;
CREATE TRIGGER events_promoted AFTER UPDATE OF outlier ON events
  WHEN OLD.outlier = 1 AND NEW.outlier = 0 AND NEW.rejected IS NULL
BEGIN
${ACCEPTED_EVENT_ROWS}END;

-- Push actions staged on the event row (one statement per event instead of two).
CREATE TRIGGER events_push AFTER INSERT ON events WHEN NEW.push_actions IS NOT NULL BEGIN
  INSERT OR IGNORE INTO event_push_actions (user_id, room_id, stream_ordering, highlight, thread_id)
    SELECT json_extract(a.value, '$[0]'), NEW.room_id, NEW.stream_ordering, json_extract(a.value, '$[1]'), coalesce(NEW.thread_id, '')
      FROM json_each(NEW.push_actions) AS a;
  UPDATE events SET push_actions = NULL WHERE stream_ordering = NEW.stream_ordering;
END;
`;
