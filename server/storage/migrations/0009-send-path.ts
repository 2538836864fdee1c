/**
 * 0009 (rooms, write path): persisting a batch of events is ONE statement from JavaScript,
 * forward extremities and push actions included. Each statement is an async hop to SQLite's
 * thread; a message send used to need four (BEGIN, INSERT events, UPDATE forward_extremities,
 * COMMIT) and now needs one: the event writer inserts into the `events_append` view, whose
 * INSTEAD OF trigger writes the events row (the 0003 triggers then add graph edges, relations
 * and search rows), the row's push actions (without storing them on the events row and clearing
 * them again, as events_push does), and, when the row carries `extremities` (a JSON array), the
 * room's new forward extremities (replacing the old set). A lone statement needs no
 * BEGIN/COMMIT: SQLite runs it as its own transaction (db.ts `defer`).
 */
const COLUMNS = [
  'stream_ordering', 'event_id', 'room_id', 'depth', 'type', 'state_key', 'sender', 'origin_server_ts', 'json',
  'unsigned_json', 'state_before', 'state_after', 'outlier', 'rejected', 'redacted_by', 'device_id', 'txn_id',
  'has_relations', 'thread_id',
];

export default /* sql */ `
CREATE VIEW events_append AS
  SELECT ${COLUMNS.join(', ')}, push_actions, NULL AS extremities FROM events WHERE 0;

CREATE TRIGGER events_append_insert INSTEAD OF INSERT ON events_append BEGIN
  INSERT INTO events (${COLUMNS.join(', ')})
    VALUES (${COLUMNS.map((c) => `NEW.${c}`).join(', ')});
  INSERT OR IGNORE INTO event_push_actions (user_id, room_id, stream_ordering, highlight, thread_id)
    SELECT json_extract(a.value, '$[0]'), NEW.room_id, NEW.stream_ordering, json_extract(a.value, '$[1]'), coalesce(NEW.thread_id, '')
      FROM json_each(NEW.push_actions) AS a;
  DELETE FROM forward_extremities WHERE NEW.extremities IS NOT NULL AND room_id = NEW.room_id;
  INSERT INTO forward_extremities (room_id, event_id)
    SELECT NEW.room_id, e.value FROM json_each(NEW.extremities) AS e;
END;
`;
