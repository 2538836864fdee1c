/**
 * Stream tokens: one position per stream source, written `s120_a4_r7_t3_p0` — each part is the
 * source key (letters) followed by its position. Sources are registered (see sync-service.ts),
 * so the E2EE area adds e.g. `d` (to-device) and `l` (device lists) without touching this file.
 *
 * Room pagination tokens (prev_batch, /messages start/end) are the events part alone: `s119`.
 * /messages also accepts a whole sync token (next_batch) and uses its `s` part, as the spec allows.
 *
 * A token is opaque to clients; parsing is strict (400 M_INVALID_PARAM on anything malformed) but
 * a key a token lacks reads as "absent", so tokens issued before a source existed stay valid.
 */
import { invalidParam } from '../../http/errors.ts';

export type StreamToken = ReadonlyMap<string, number>;

/** The events stream key; also the whole content of a pagination token. */
export const EVENTS_KEY = 's';

const PART = /^([a-z]+)(-?\d{1,16})$/;

export function parseStreamToken(token: string): Map<string, number> {
  const out = new Map<string, number>();
  if (!token || token.length > 512) throw invalidParam('Invalid stream token');
  for (const part of token.split('_')) {
    const m = PART.exec(part);
    if (!m) throw invalidParam('Invalid stream token');
    const pos = Number(m[2]);
    if (!Number.isSafeInteger(pos) || out.has(m[1]!)) throw invalidParam('Invalid stream token');
    out.set(m[1]!, pos);
  }
  return out;
}

export function formatStreamToken(t: StreamToken): string {
  return [...t].map(([k, v]) => `${k}${v}`).join('_');
}

/** The events position of a pagination or sync token. */
export function parsePaginationToken(token: string): number {
  const t = parseStreamToken(token);
  const pos = t.get(EVENTS_KEY);
  if (pos === undefined) throw invalidParam('Invalid pagination token');
  return pos;
}

export function paginationToken(pos: number): string {
  return `${EVENTS_KEY}${pos}`;
}
