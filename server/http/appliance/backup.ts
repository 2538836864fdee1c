/**
 * The backup API, /_hearth/api/backup/*, for the dashboard (a signed-in admin) and the wizard
 * (the setup token while setup is open):
 *   GET  status              last backup, next run, size, drill result, history, running job
 *   POST destination         set up where backups go + passphrase (tested before saving)
 *   POST settings            schedule and retention
 *   POST run                 "Back up now" (progress via GET status → job)
 *   GET  snapshots           backups in the configured repository
 *   GET  passphrase          a suggested strong passphrase
 * and the wizard's "Restore from a backup" (setup token only, fresh install only):
 *   POST restore/snapshots   list snapshots of a repository given destination + passphrase
 *   POST restore             start restoring one; GET restore → progress, result or error
 */
import type Router from '@koa/router';
import type Koa from 'koa';
import { randomBytes } from 'node:crypto';
import type { Services } from '../../services/container.ts';
import { readJson } from '../middleware/json-body.ts';
import { MatrixError } from '../errors.ts';
import { requireSetupOrAdmin, requireSetupToken } from './guards.ts';
import { BackupError, type BackupErrorCode } from '../../appliance/backups/errors.ts';
import type { DestinationInput } from '../../appliance/backups/setup.ts';
import { recoverySheet } from '../../appliance/backups/recovery-sheet.ts';
import { parseSchedule } from '../../appliance/backups/schedule.ts';
import { listSnapshots } from '../../appliance/backups/restore.ts';
import { makeRestic } from '../../appliance/backups/backup-job.ts';
import { loadPassphrase } from '../../appliance/backups/secrets.ts';
import { destinationFor } from '../../appliance/backups/settings.ts';

const STATUS: Partial<Record<BackupErrorCode, number>> = {
  BAD_DESTINATION: 400,
  WRONG_PASSPHRASE: 400,
  NO_BUCKET: 400,
  NO_REPOSITORY: 400,
  ACCESS_DENIED: 400,
  NO_SNAPSHOT: 404,
  BUSY: 409,
  NOT_CONFIGURED: 409,
  TARGET_NOT_EMPTY: 409,
  SCHEMA_TOO_NEW: 409,
  NOT_A_HEARTH_BACKUP: 409,
  UNREACHABLE: 502,
  TLS: 502,
  TIMEOUT: 504,
};

/** A BackupError as the Matrix-style error the UI shows; `hearth_error` names the case. */
export function toHttpError(e: unknown): unknown {
  if (!(e instanceof BackupError)) return e;
  const status = STATUS[e.code] ?? 500;
  return new MatrixError(status, status === 400 ? 'M_INVALID_PARAM' : 'M_UNKNOWN', e.message, { hearth_error: e.code });
}

const wrap =
  (fn: Koa.Middleware): Koa.Middleware =>
  async (ctx, next) => {
    try {
      await fn(ctx, next);
    } catch (e) {
      throw toHttpError(e);
    }
  };

/** 120 random bits as six groups of five letters/digits without look-alikes: easy to copy, never guessed. */
export function suggestPassphrase(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  const out: string[] = [];
  for (const b of randomBytes(64)) {
    if (out.length === 30) break;
    if (b < 248) out.push(alphabet[b % alphabet.length]!);
  }
  return out.join('').match(/.{5}/g)!.join('-');
}

export function backupRoutes(router: Router, s: Services): void {
  const p = '/_hearth/api/backup';
  const guard = requireSetupOrAdmin(s);
  const setupOnly = requireSetupToken(s);
  const noStore: Koa.Middleware = async (ctx, next) => {
    ctx.set('Cache-Control', 'no-store');
    await next();
  };
  const body = (ctx: Koa.Context) => readJson<Record<string, unknown>>(ctx);

  router.get(`${p}/status`, noStore, guard, wrap(async (ctx) => {
    ctx.body = await s.backups.status();
  }));

  router.post(`${p}/destination`, noStore, guard, wrap(async (ctx) => {
    const input = (await body(ctx)) as DestinationInput;
    const result = await s.backups.configure(input);
    const settings = await s.backups.settings();
    ctx.body = {
      ...result,
      // Built from what the owner just typed, for the wizard's "save your recovery sheet".
      recovery_sheet: recoverySheet({
        serverName: s.config.server_name,
        repo: settings.repo!,
        passphrase: String(input.passphrase ?? ''),
        now: s.now(),
      }),
      status: await s.backups.status(),
    };
  }));

  router.post(`${p}/settings`, noStore, guard, wrap(async (ctx) => {
    const b = await body(ctx);
    const row = await s.backups.store.getSettings();
    if (!row) throw new BackupError('NOT_CONFIGURED', 'set up a backup destination first');
    let schedule = row.schedule;
    if (b.schedule !== undefined) {
      if (typeof b.schedule !== 'string') throw new BackupError('BAD_DESTINATION', "schedule must be HH:MM or 'off'");
      try {
        parseSchedule(b.schedule);
      } catch (e) {
        throw new BackupError('BAD_DESTINATION', (e as Error).message);
      }
      schedule = b.schedule;
    }
    const r = (b.retention ?? {}) as Record<string, unknown>;
    const keep = (k: 'daily' | 'weekly' | 'monthly', cur: number | null) => {
      const v = r[k];
      if (v === undefined) return cur;
      if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 999) throw new BackupError('BAD_DESTINATION', `retention.${k} must be a whole number from 0 to 999`);
      return v as number;
    };
    const next = { ...row, schedule, keep_daily: keep('daily', row.keep_daily), keep_weekly: keep('weekly', row.keep_weekly), keep_monthly: keep('monthly', row.keep_monthly) };
    if ([next.keep_daily, next.keep_weekly, next.keep_monthly].every((v) => v === 0)) throw new BackupError('BAD_DESTINATION', 'retention must keep at least one backup');
    await s.backups.store.saveSettings(next, s.now());
    await s.backups.reschedule();
    ctx.body = await s.backups.status();
  }));

  router.post(`${p}/run`, noStore, guard, wrap(async (ctx) => {
    await s.backups.backupNow('manual');
    ctx.status = 202;
    ctx.body = await s.backups.status();
  }));

  router.get(`${p}/snapshots`, noStore, guard, wrap(async (ctx) => {
    const settings = await s.backups.settings();
    const passphrase = loadPassphrase(s.config.data_dir);
    if (!settings.repo || !passphrase) throw new BackupError('NOT_CONFIGURED', 'no backup destination is set up yet');
    const restic = makeRestic(s.config.data_dir, destinationFor(s.config, settings), passphrase, { signal: s.shutdown });
    ctx.body = { snapshots: await listSnapshots(restic) };
  }));

  router.get(`${p}/passphrase`, noStore, guard, async (ctx) => {
    ctx.body = { passphrase: suggestPassphrase() };
  });

  // The wizard's restore path: only with the setup token, only onto a fresh install.
  router.post(`${p}/restore/snapshots`, noStore, setupOnly, wrap(async (ctx) => {
    ctx.body = await s.backups.restore.listSnapshots((await body(ctx)) as DestinationInput);
  }));

  router.post(`${p}/restore`, noStore, setupOnly, wrap(async (ctx) => {
    const b = (await body(ctx)) as DestinationInput & { snapshot?: string };
    ctx.status = 202;
    ctx.body = await s.backups.restore.start(b);
  }));

  router.get(`${p}/restore`, noStore, setupOnly, async (ctx) => {
    ctx.body = s.backups.restore.status() ?? { finished: false, progress: null, error: null, result: null };
  });
}
