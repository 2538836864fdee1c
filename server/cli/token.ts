/**
 * `hearth token`: registration tokens (spec: m.login.registration_token). Registration is closed
 * unless a token is given, so this is how the admin invites people. Works while the server runs
 * (the server reads tokens from the database on every use).
 */
import { DATA_DIR_OPTIONS, dataDirUsage, parse, UsageError } from './args.ts';
import { loadConfigForCli, openDatabaseForCli } from './open-db.ts';
import { RegistrationTokensStore } from '../storage/registration-tokens-store.ts';
import { createRegistrationToken, describeToken, type RegistrationTokenInfo } from '../services/registration.ts';

export const usage = `Usage: hearth token create [--uses N] [--expires WHEN] [--token TOKEN] [--data-dir DIR]
       hearth token list [--json] [--data-dir DIR]
       hearth token delete TOKEN [--data-dir DIR]

Registration tokens let people create an account on this server (registration is closed
without one). Give the token to the person you invite; their client asks for it.

Options:
  --uses N          how many accounts the token may create (default: unlimited)
  --expires WHEN    when it stops working: a date/time (2030-01-31, 2030-01-31T18:00Z)
                    or a duration from now (30m, 12h, 7d, 2w)
  --token TOKEN     choose the token text instead of a random one (A-Z a-z 0-9 . _ ~ -, max 64)
  --json            machine-readable output
${dataDirUsage()}`;

const OPTIONS = {
  uses: { type: 'string' },
  expires: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  ...DATA_DIR_OPTIONS,
} as const;

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `7d` → now + 7 days; otherwise an ISO-like date. Must lie in the future. */
export function parseExpiry(value: string, now: number): number {
  const rel = /^(\d+)([mhdw])$/.exec(value.trim());
  const ts = rel ? now + Number(rel[1]) * UNITS[rel[2]!]! : Date.parse(value);
  if (!Number.isFinite(ts)) throw new UsageError(`token create: cannot read --expires '${value}' (use 2030-01-31 or 7d)`);
  if (ts <= now) throw new UsageError(`token create: --expires '${value}' is in the past`);
  return ts;
}

function describe(t: RegistrationTokenInfo): string {
  const uses = t.usesAllowed === null ? `${t.completed} used, unlimited` : `${t.completed}/${t.usesAllowed} used`;
  const pending = t.pending ? `, ${t.pending} in progress` : '';
  const expires = t.expiryTs === null ? 'never expires' : `expires ${new Date(t.expiryTs).toISOString()}`;
  return `${t.token}  ${uses}${pending}, ${expires}${t.valid ? '' : '  (no longer valid)'}`;
}

function toJson(t: RegistrationTokenInfo): Record<string, unknown> {
  return {
    token: t.token,
    uses_allowed: t.usesAllowed,
    pending: t.pending,
    completed: t.completed,
    expiry_time: t.expiryTs,
    valid: t.valid,
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, 'token', true);
  if (values.help || positionals.length === 0) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const [sub, ...rest] = positionals;
  if (sub !== 'create' && sub !== 'list' && sub !== 'delete') {
    throw new UsageError(`token: unknown subcommand '${sub}' (see hearth token --help)`);
  }
  if (sub === 'delete' && rest.length !== 1) throw new UsageError('token delete: give exactly one TOKEN');
  if (sub !== 'delete' && rest.length) throw new UsageError(`token ${sub}: unexpected argument '${rest[0]}'`);
  const now = Date.now();
  let usesAllowed: number | null = null;
  if (values.uses !== undefined) {
    if (sub !== 'create') throw new UsageError(`token ${sub}: --uses only applies to create`);
    if (!/^\d+$/.test(values.uses) || Number(values.uses) < 1) throw new UsageError('token create: --uses must be a positive integer');
    usesAllowed = Number(values.uses);
  }
  const expiryTs = values.expires !== undefined ? parseExpiry(values.expires, now) : null;

  const config = await loadConfigForCli(values);
  const db = await openDatabaseForCli(config.data_dir);
  try {
    if (sub === 'create') {
      const t = await createRegistrationToken(db, { token: values.token, usesAllowed, expiryTs }, now);
      console.log(values.json ? JSON.stringify(toJson(t)) : t.token);
      return 0;
    }
    const store = new RegistrationTokensStore(db);
    if (sub === 'list') {
      const tokens = (await store.list()).map((r) => describeToken(r, now));
      if (values.json) console.log(JSON.stringify(tokens.map(toJson)));
      else if (tokens.length === 0) console.log('no registration tokens (create one with: hearth token create)');
      else for (const t of tokens) console.log(describe(t));
      return 0;
    }
    const deleted = await db.write((tx) => store.delete(tx, rest[0]!));
    if (!deleted) throw new Error(`no registration token '${rest[0]}'`);
    console.log(`deleted ${rest[0]}`);
    return 0;
  } finally {
    await db.close();
  }
}
