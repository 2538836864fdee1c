/**
 * The setup wizard's steps, as a state machine over the appliance_setup row. Shared by the
 * JSON API (server/http/appliance/setup-routes.ts) and the `hearth setup` CLI, so every step
 * can be scripted. Each step checks its prerequisites; the person can go back at any time.
 */
import type { Services } from '../../services/container.ts';
import { MatrixError, forbidden } from '../../http/errors.ts';
import { hashPassword } from '../../services/passwords.ts';
import { isValidLocalpart } from '../../services/localpart.ts';
import { UserExistsError } from '../../storage/users-store.ts';
import type { SetupRow } from '../../storage/appliance-store.ts';
import { parseServerName } from '../../services/federation/discovery.ts';
import { checkHost, localAddresses, type NamesCheck } from '../checks/dns-check.ts';
import { checkDelegation, clientWellKnown, delegationNeeded, serverWellKnown, snippets, splitHost, type DelegationReport } from '../checks/delegation.ts';
import { runSelfTest, type SelfTestResult } from '../checks/self-test.ts';
import type { ChallengeType } from '../acme/obtain.ts';
import type { CertJob } from '../acme/cert-manager.ts';

export const STEPS = ['welcome', 'admin', 'names', 'certificate', 'delegation', 'selftest', 'backups', 'done'] as const;
/** 'restore' is the alternative path from 'welcome' (the backups area fills it in). */
export type StepId = (typeof STEPS)[number] | 'restore';

export const MIN_PASSWORD_LENGTH = 8;

export interface WizardState {
  step: StepId;
  completed: boolean;
  steps: { id: StepId; done: boolean; blocked: string | null }[];
  mode: 'new' | 'restore' | null;
  admin: { localpart: string | null; userId: string | null; created: boolean };
  names: { serverName: string | null; publicHost: string | null; locked: boolean; lockedReason: string | null };
  certificate: {
    challenge: ChallengeType | null;
    email: string | null;
    job: CertJob | null;
    managed: { names: string[]; issuer: string; notAfter: number } | null;
    operatorCert: boolean;
    httpPort: number;
  };
  delegation: {
    needed: boolean;
    ok: boolean;
    server: unknown;
    client: unknown;
    snippets: Record<string, string> | null;
  };
  selftest: { ok: boolean };
}

const wizardError = (msg: string, status = 400) => new MatrixError(status, 'M_INVALID_PARAM', msg);

function serverNameOf(s: Services, row: SetupRow): string | null {
  return s.config.server_name ?? row.server_name;
}

/** Why `step` cannot be entered yet (null when it can). */
function blockedReason(s: Services, row: SetupRow, step: StepId): string | null {
  const hasCert = !!s.appliance.certs.managed() || !!s.config.tls_cert;
  switch (step) {
    case 'welcome':
      return null;
    case 'restore':
      return null;
    case 'admin':
      return row.mode === 'new' ? null : 'Choose "Set up a new server" first.';
    case 'names':
      return row.admin_localpart ? null : 'Choose the admin account first.';
    case 'certificate':
      return serverNameOf(s, row) && s.appliance.publicHost() && row.admin_user_id ? null : 'Choose the server name first.';
    case 'delegation':
    case 'selftest':
    case 'backups':
    case 'done':
      return hasCert ? null : 'Get the certificate first.';
  }
}

export async function wizardState(s: Services): Promise<WizardState> {
  const row = await s.appliance.setup();
  const serverName = serverNameOf(s, row);
  const publicHost = s.appliance.publicHost();
  const managed = s.appliance.certs.managed();
  const names = serverName && publicHost ? { serverName, publicHost } : null;
  const doneOf: Record<StepId, boolean> = {
    welcome: row.mode !== null,
    restore: false,
    admin: !!row.admin_localpart,
    names: !!row.admin_user_id && !!serverName,
    certificate: !!managed || !!s.config.tls_cert,
    delegation: !!row.delegation_ok_ts,
    selftest: !!row.selftest_ok_ts,
    backups: STEPS.indexOf(row.step as (typeof STEPS)[number]) > STEPS.indexOf('backups'),
    done: !!row.completed_ts,
  };
  const lockedReason = s.config.server_name
    ? 'The server name was set when Hearth was started (--server-name) and cannot change.'
    : row.admin_user_id
      ? 'The server name is permanent once the admin account exists.'
      : null;
  return {
    step: row.step as StepId,
    completed: !!row.completed_ts,
    steps: STEPS.map((id) => ({ id, done: doneOf[id], blocked: blockedReason(s, row, id) })),
    mode: row.mode,
    admin: { localpart: row.admin_localpart, userId: row.admin_user_id, created: !!row.admin_user_id },
    names: { serverName, publicHost: row.public_host ?? (s.config.public_baseurl ? publicHost : null), locked: !!lockedReason, lockedReason },
    certificate: {
      challenge: row.challenge,
      email: row.acme_email ?? s.config.acme_email,
      job: s.appliance.certs.job(),
      managed: managed && { names: managed.names, issuer: managed.issuer, notAfter: managed.notAfter },
      operatorCert: !!s.config.tls_cert,
      httpPort: s.config.acme_http_port,
    },
    delegation: {
      needed: names ? delegationNeeded(names) : false,
      ok: !!row.delegation_ok_ts,
      server: names ? serverWellKnown(names) : null,
      client: names ? clientWellKnown(names) : null,
      snippets: names ? snippets(names) : null,
    },
    selftest: { ok: !!row.selftest_ok_ts },
  };
}

export async function goTo(s: Services, step: string): Promise<WizardState> {
  if (!(STEPS as readonly string[]).includes(step) && step !== 'restore') throw wizardError(`unknown step '${step}'`);
  const row = await s.appliance.setup();
  const why = blockedReason(s, row, step as StepId);
  if (why) throw new MatrixError(409, 'M_FORBIDDEN', why);
  await s.appliance.patch({ step });
  return wizardState(s);
}

export async function chooseMode(s: Services, mode: unknown): Promise<WizardState> {
  if (mode !== 'new' && mode !== 'restore') throw wizardError('mode must be "new" or "restore"');
  await s.appliance.patch({ mode, step: mode === 'new' ? 'admin' : 'restore' });
  return wizardState(s);
}

export async function setAdmin(s: Services, localpart: unknown, password: unknown): Promise<WizardState> {
  const row = await s.appliance.setup();
  if (row.admin_user_id) throw new MatrixError(409, 'M_FORBIDDEN', `The admin account ${row.admin_user_id} already exists. You can change its password later from the dashboard.`);
  if (typeof localpart !== 'string' || !isValidLocalpart(localpart.trim().toLowerCase())) {
    throw wizardError('Use only lower-case letters a–z, digits and . _ = - / for the user name.');
  }
  if (typeof password !== 'string' || password.length < MIN_PASSWORD_LENGTH) {
    throw wizardError(`The password needs at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
  const lp = localpart.trim().toLowerCase();
  const serverName = serverNameOf(s, row);
  // The account can only be created once the server name is known (it is part of the user ID).
  await s.appliance.patch({ admin_localpart: lp, admin_password_hash: await hashPassword(password), step: 'names' });
  if (serverName) await createAdmin(s, serverName);
  return wizardState(s);
}

async function createAdmin(s: Services, serverName: string): Promise<void> {
  const row = await s.appliance.setup();
  if (row.admin_user_id || !row.admin_localpart || !row.admin_password_hash) return;
  const userId = `@${row.admin_localpart}:${serverName}`;
  try {
    await s.users.create({ userId, localpart: row.admin_localpart, passwordHash: row.admin_password_hash, admin: true, now: s.now() });
  } catch (e) {
    if (!(e instanceof UserExistsError)) throw e;
    const existing = await s.users.getByUserId(userId);
    if (!existing?.is_admin) throw new MatrixError(409, 'M_USER_IN_USE', `${userId} already exists and is not an admin. Choose another user name.`);
  }
  await s.appliance.patch({ admin_user_id: userId, admin_password_hash: null });
}

function validateNames(serverName: unknown, host: unknown): { serverName: string; host: string } {
  if (typeof serverName !== 'string' || typeof host !== 'string') throw wizardError('Give both the server name and the host name.');
  const sn = serverName.trim().toLowerCase().replace(/\.$/, '');
  const h = (host.trim() || sn).toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const p = parseServerName(sn);
  if (!p || p.isIp || p.port !== undefined || !sn.includes('.')) {
    throw wizardError(`"${serverName}" is not a domain name. Use a name you own, such as example.org (no http://, no port).`);
  }
  const ph = parseServerName(h);
  if (!ph || ph.isIp || !ph.hostname.includes('.')) {
    throw wizardError(`"${host}" is not a host name. Use a name such as matrix.example.org (a port may follow, as in matrix.example.org:8443).`);
  }
  return { serverName: sn, host: h };
}

export async function checkNames(s: Services, serverName: unknown, host: unknown): Promise<NamesCheck> {
  const n = validateNames(serverName, host);
  return checkHost({
    host: splitHost(n.host).host,
    httpPort: s.config.acme_http_port,
    resolver: s.appliance.resolver,
    probes: s.appliance.probes,
    publicIpUrl: s.config.public_ip_url,
    now: () => s.now(),
  });
}

export async function saveNames(s: Services, serverName: unknown, host: unknown): Promise<WizardState> {
  const row = await s.appliance.setup();
  if (!row.admin_localpart) throw new MatrixError(409, 'M_FORBIDDEN', 'Choose the admin account first.');
  const n = validateNames(serverName, host);
  const fixed = serverNameOf(s, row);
  if (fixed && fixed !== n.serverName && row.admin_user_id) {
    throw new MatrixError(409, 'M_FORBIDDEN', `The server name is already ${fixed} and cannot change.`);
  }
  if (s.config.public_baseurl && s.appliance.publicHost() !== n.host) {
    throw new MatrixError(409, 'M_FORBIDDEN', `The host was set when Hearth was started (--public-baseurl ${s.config.public_baseurl}).`);
  }
  // A server name is permanent (user IDs and signatures embed it): record it for this database.
  const stored = await s.meta.setIfAbsent('server_name', n.serverName);
  if (stored !== n.serverName) throw new MatrixError(409, 'M_FORBIDDEN', `This server already has the name ${stored}; it cannot change.`);
  s.config.server_name = stored;
  await s.appliance.patch({ server_name: n.serverName, public_host: n.host, step: 'certificate', delegation_ok_ts: null, selftest_ok_ts: null });
  await createAdmin(s, n.serverName);
  return wizardState(s);
}

export async function startCertificate(s: Services, challenge: unknown, email: unknown): Promise<WizardState> {
  const row = await s.appliance.setup();
  const why = blockedReason(s, row, 'certificate');
  if (why) throw new MatrixError(409, 'M_FORBIDDEN', why);
  if (challenge !== 'http-01' && challenge !== 'dns-01') throw wizardError('challenge must be "http-01" or "dns-01"');
  if (email !== undefined && email !== null && email !== '' && (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email))) {
    throw wizardError('That e-mail address does not look right.');
  }
  const mail = typeof email === 'string' && email ? email : null;
  await s.appliance.patch({ challenge, acme_email: mail });
  const domain = splitHost(s.appliance.publicHost()!).host;
  try {
    s.appliance.certs.start({ domain, challenge, email: mail, reason: 'wizard' });
  } catch (e) {
    throw new MatrixError(409, 'M_FORBIDDEN', (e as Error).message);
  }
  return wizardState(s);
}

export async function delegationCheck(s: Services): Promise<DelegationReport & { needed: boolean }> {
  const row = await s.appliance.setup();
  const serverName = serverNameOf(s, row);
  const publicHost = s.appliance.publicHost();
  if (!serverName || !publicHost) throw new MatrixError(409, 'M_FORBIDDEN', 'Choose the server name first.');
  const names = { serverName, publicHost };
  const report = await checkDelegation(names, { resolver: s.appliance.resolver, ca: s.appliance.caBundle() });
  await s.appliance.patch({ delegation_ok_ts: report.ok ? s.now() : null });
  return { ...report, needed: delegationNeeded(names) };
}

export async function selfTest(s: Services): Promise<SelfTestResult> {
  const row = await s.appliance.setup();
  const serverName = serverNameOf(s, row);
  if (!serverName) throw new MatrixError(409, 'M_FORBIDDEN', 'Choose the server name first.');
  const result = await runSelfTest({
    serverName,
    discovery: s.appliance.discovery,
    ca: s.appliance.caBundle(),
    ourKeys: s.appliance.ourVerifyKeys(),
    localAddresses: localAddresses(),
    now: () => s.now(),
  });
  if (!row.completed_ts) await s.appliance.patch({ selftest_ok_ts: result.ok ? s.now() : null });
  return result;
}

export async function finish(s: Services): Promise<{ adminUserId: string | null; serverName: string | null; baseUrl: string | null }> {
  const row = await s.appliance.setup();
  const why = blockedReason(s, row, 'done');
  if (why) throw new MatrixError(409, 'M_FORBIDDEN', why);
  if (!row.admin_user_id) throw new MatrixError(409, 'M_FORBIDDEN', 'The admin account does not exist yet.');
  await s.appliance.finishSetup();
  const host = s.appliance.publicHost();
  const { port } = splitHost(host ?? '');
  return {
    adminUserId: row.admin_user_id,
    serverName: serverNameOf(s, row),
    baseUrl: host ? `https://${splitHost(host).host}${port === 443 ? '' : `:${port}`}` : null,
  };
}

/** After setup, the wizard API is closed. */
export async function assertSetupOpen(s: Services): Promise<void> {
  const row = await s.appliance.setup();
  if (row.completed_ts) throw forbidden('Setup is finished. Sign in to the dashboard with the admin account instead.');
}

