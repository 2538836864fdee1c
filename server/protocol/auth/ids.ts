/**
 * The little identifier handling the auth rules need. Deliberately lenient (appendices.md
 * "Historical User IDs" are still valid in old rooms): the rules only need the server part and
 * the user-ID validation that event-format checks apply to `sender`.
 */
import { isAcceptableUserId } from '../identifiers.ts';
import type { EventReference, Json, JsonObject } from '../pdu-types.ts';

/** The server name after the first `:` of a user, room or (v1–v2) event ID; undefined if absent. */
export function serverNameOf(id: string): string | undefined {
  const i = id.indexOf(':');
  if (i < 0 || i === id.length - 1) return undefined;
  return id.slice(i + 1);
}

/** A user ID events may carry: the same (historical-leniency) validation the PDU format applies to `sender`. */
export function isUserIdShape(id: unknown): id is string {
  return typeof id === 'string' && isAcceptableUserId(id);
}

/** IDs of `prev_events` / `auth_events` whatever their per-version shape (v1–v2 pairs, v3+ strings). */
export function referenceIds(refs: readonly EventReference[] | undefined): string[] {
  if (!Array.isArray(refs)) return [];
  const out: string[] = [];
  for (const r of refs) {
    if (typeof r === 'string') out.push(r);
    else if (Array.isArray(r) && typeof r[0] === 'string') out.push(r[0]);
  }
  return out;
}

/** A JSON object (not an array, not null). */
export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own-property read: event content comes from the network, `content.users.constructor` must not be Object's. */
export function own(obj: JsonObject | undefined, key: string): Json | undefined {
  return typeof obj === 'object' && obj !== null && Object.hasOwn(obj, key) ? obj[key] : undefined;
}
