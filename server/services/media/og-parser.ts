/**
 * OpenGraph metadata from an HTML page, for preview_url. A small tolerant scanner rather than
 * a DOM parser: we only need <meta> tags and <title> from the first part of the page, and a
 * real parser would cost memory and start-up time on the board.
 */

const MAX_VALUE = 1000;
const MAX_KEYS = 64;

const ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', '#39': "'",
  copy: '\u00a9', reg: '\u00ae', trade: '\u2122', hellip: '\u2026', mdash: '\u2014', ndash: '\u2013',
  lsquo: '\u2018', rsquo: '\u2019', ldquo: '\u201c', rdquo: '\u201d', laquo: '\u00ab', raquo: '\u00bb',
  bull: '\u2022', middot: '\u00b7', euro: '\u20ac', pound: '\u00a3', yen: '\u00a5', times: '\u00d7',
  szlig: '\u00df', aelig: '\u00e6', AElig: '\u00c6', oslash: '\u00f8', Oslash: '\u00d8', eth: '\u00f0', thorn: '\u00fe',
};
// Accented Latin letters (&eacute; &Uuml; &ccedil; …): the letter plus a combining mark, composed.
const MARKS: Record<string, string> = { acute: '\u0301', grave: '\u0300', circ: '\u0302', uml: '\u0308', tilde: '\u0303', ring: '\u030a', cedil: '\u0327' };
for (const [mark, combining] of Object.entries(MARKS)) {
  for (const letter of 'aeiouyncAEIOUYNC') {
    const composed = (letter + combining).normalize('NFC');
    if (composed.length === 1) ENTITIES[letter + mark] = composed;
  }
}

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,8}|#39);/gi, (m, e: string) => {
    const lower = e.toLowerCase();
    if (lower.startsWith('#x') || lower.startsWith('#')) {
      const n = lower.startsWith('#x') ? parseInt(lower.slice(2), 16) : parseInt(lower.slice(1), 10);
      return n > 0 && n <= 0x10ffff && !(n >= 0xd800 && n <= 0xdfff) ? String.fromCodePoint(n) : m;
    }
    return ENTITIES[e] ?? ENTITIES[lower] ?? m;
  });
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_:.-]+)\s*=\s*("([^"]*)"|'([^']*)'|([^\s"'>]+))/g;
  for (let m = re.exec(tag); m; m = re.exec(tag)) {
    out[m[1]!.toLowerCase()] = decodeEntities(m[3] ?? m[4] ?? m[5] ?? '');
  }
  return out;
}

const clean = (v: string) => v.replace(/\s+/g, ' ').trim().slice(0, MAX_VALUE);

/** The charset a page declares in a <meta> tag, if any (looked for in the first bytes, as browsers do). */
export function metaCharset(head: string): string | undefined {
  const m = /<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)/i.exec(head);
  return m?.[1];
}

/** og:* properties of the page, with <title> / description / twitter:* as fallbacks. */
export function parseOpenGraph(html: string): Record<string, string | number> {
  // Tags inside scripts, styles and comments are not metadata.
  const text = html.replace(/<!--[\s\S]*?-->/g, '').replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, '');
  const og: Record<string, string | number> = {};
  const fallback: Record<string, string> = {};
  const metaRe = /<meta\b([^>]*)>/gi;
  for (let m = metaRe.exec(text); m && Object.keys(og).length < MAX_KEYS; m = metaRe.exec(text)) {
    const a = attributes(m[1]!);
    const key = (a.property ?? a.name ?? '').toLowerCase();
    const content = a.content;
    if (!key || content === undefined) continue;
    if (key.startsWith('og:')) {
      // The first value wins (og arrays repeat keys for alternatives).
      if (!(key in og)) og[key] = clean(content);
    } else if (key === 'description' || key.startsWith('twitter:')) {
      fallback[key] ??= clean(content);
    }
  }
  if (!og['og:title']) {
    const t = fallback['twitter:title'] ?? /<title[^>]*>([\s\S]*?)<\/title>/i.exec(text)?.[1];
    if (t) og['og:title'] = clean(decodeEntities(t));
  }
  if (!og['og:description']) {
    const d = fallback.description ?? fallback['twitter:description'];
    if (d) og['og:description'] = d;
  }
  if (!og['og:image'] && fallback['twitter:image']) og['og:image'] = fallback['twitter:image'];
  for (const k of ['og:image:width', 'og:image:height']) {
    if (k in og) {
      const n = Number(og[k]);
      if (Number.isSafeInteger(n) && n > 0) og[k] = n;
      else delete og[k];
    }
  }
  return og;
}
