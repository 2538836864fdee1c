export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return 'unknown';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

export function duration(s: number): string {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  return `${m} min`;
}

export function date(ms: number | null | undefined): string {
  if (!ms) return '—';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A rough password strength for the hint: length and variety, never a hard rule beyond 8 characters. */
export function passwordStrength(p: string): { score: 0 | 1 | 2 | 3; label: string } {
  if (p.length < 8) return { score: 0, label: 'Too short: use at least 8 characters.' };
  let kinds = 0;
  for (const re of [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/]) if (re.test(p)) kinds++;
  // Mostly a well-known word or sequence ("Password1!", "matrix123"): weak however long.
  const common = p.replace(/password|123456|qwerty|letmein|hearth|matrix|admin/gi, '').length < 6;
  if (common || (p.length < 10 && kinds < 3)) return { score: 1, label: 'Weak: a few random words make a strong, memorable password.' };
  if (p.length >= 16 || (p.length >= 12 && kinds >= 3)) return { score: 3, label: 'Strong.' };
  return { score: 2, label: 'Fair: longer is stronger.' };
}
