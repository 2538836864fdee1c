/**
 * `hearth cert obtain|status`: the certificate step without a browser. `obtain` answers HTTP-01
 * through a running Hearth's plain-HTTP listeners (it writes the answer into
 * DATA_DIR/acme-challenge, which every listener serves) or, when none runs, through temporary
 * listeners of its own on the configured addresses. The certificate lands in DATA_DIR/tls, where
 * a running server picks it up without a restart.
 */
import http from 'node:http';
import { DATA_DIR_OPTIONS, dataDirUsage, parse, UsageError } from './args.ts';
import { parseListen } from '../config/loader.ts';
import type { Config } from '../config/schema.ts';
import { obtainCertificate, type ChallengeType } from '../appliance/acme/obtain.ts';
import { explainAcmeError } from '../appliance/acme/explain.ts';
import { readHttp01 } from '../appliance/acme/challenge-dir.ts';
import { createResolver } from '../appliance/net/resolver.ts';
import { managedPaths, readCertPair, writeCertPair } from '../appliance/tls/cert-files.ts';
import { renewAt, WARN_BEFORE_EXPIRY_MS } from '../appliance/acme/cert-manager.ts';
import { loadConfigForCli, openDatabaseForCli } from './open-db.ts';
import { ApplianceStore } from '../storage/appliance-store.ts';
import { ensureDataDir } from '../storage/data-dir.ts';

export const usage = `Usage: hearth cert obtain --domain NAME [options]
       hearth cert status [--data-dir DIR]

obtain   get a certificate for NAME from the ACME server (Let's Encrypt by default) and install it
status   show the installed certificate, when it renews, and recent attempts

Options for obtain:
  --domain NAME            the host name the certificate is for (e.g. matrix.example.org)
  --acme-directory URL     ACME directory (default: acme_directory_url, Let's Encrypt production)
  --email E                contact e-mail for the ACME account
  --challenge TYPE         http-01 (default: the CA connects to port 80) or dns-01 (you add a TXT record)
${dataDirUsage(27)}`;

const OPTIONS = {
  domain: { type: 'string' },
  'acme-directory': { type: 'string' },
  email: { type: 'string' },
  challenge: { type: 'string' },
  ...DATA_DIR_OPTIONS,
} as const;

type Values = ReturnType<typeof parse<typeof OPTIONS>>['values'];

/** True when a Hearth answers /health on one of the configured plain-HTTP listeners. */
async function runningHearth(config: Config): Promise<string | null> {
  for (const spec of config.listen) {
    const l = parseListen(spec);
    if (!l) continue;
    const host = l.host === '0.0.0.0' || l.host === '::' ? '127.0.0.1' : l.host;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${l.port}/health`;
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(1500), redirect: 'manual' });
      const j = (await r.json()) as { version?: string };
      if (j.version) return spec;
    } catch {
      // nothing there, or not Hearth
    }
  }
  return null;
}

/** Temporary listeners that answer only ACME HTTP-01 from DATA_DIR. */
async function answerChallengesOurselves(config: Config): Promise<() => Promise<void>> {
  const servers: http.Server[] = [];
  for (const spec of config.listen) {
    const l = parseListen(spec)!;
    const srv = http.createServer((req, res) => {
      const m = /^\/\.well-known\/acme-challenge\/([^/?]+)/.exec(req.url ?? '');
      const answer = m ? readHttp01(config.data_dir, m[1]!) : undefined;
      res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'text/plain' });
      res.end(answer ?? 'not found');
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', (e) => reject(new Error(`cannot listen on ${spec} to answer the CA: ${(e as Error).message}`)));
      srv.listen(l.port, l.host, () => resolve());
    });
    servers.push(srv);
  }
  return async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
  };
}

async function obtain(values: Values): Promise<number> {
  const domain = values.domain;
  if (!domain || !/^[a-z0-9.-]+\.[a-z0-9-]+$/i.test(domain)) throw new UsageError('cert obtain: --domain NAME is required (e.g. matrix.example.org)');
  const challenge = (values.challenge ?? 'http-01') as ChallengeType;
  if (challenge !== 'http-01' && challenge !== 'dns-01') throw new UsageError('cert obtain: --challenge must be http-01 or dns-01');
  const config = await loadConfigForCli(values, { acme_directory_url: values['acme-directory'] });
  ensureDataDir(config.data_dir);
  let stopOwn: (() => Promise<void>) | null = null;
  if (challenge === 'http-01') {
    const running = await runningHearth(config);
    if (running) console.log(`Using the running Hearth on ${running} to answer the certificate authority.`);
    else {
      stopOwn = await answerChallengesOurselves(config);
      console.log(`No Hearth is running: answering the certificate authority on ${config.listen.join(', ')} myself.`);
    }
  }
  const db = await openDatabaseForCli(config.data_dir);
  const store = new ApplianceStore(db);
  const url = config.acme_directory_url;
  const attempt = await store.startAttempt({ domain, reason: 'cli', directoryUrl: url, challenge, now: Date.now() });
  try {
    let lastPhase = '';
    const got = await obtainCertificate({
      dataDir: config.data_dir,
      domain,
      directoryUrl: url,
      email: values.email ?? config.acme_email,
      challenge,
      caFile: config.acme_ca_file,
      resolver: createResolver(config.dns_servers),
      onStatus: (s) => {
        if (s.phase === lastPhase) return;
        lastPhase = s.phase;
        console.log(s.message);
        if (s.dns) console.log(`\n  TXT record: ${s.dns.name}\n  value:      ${s.dns.value}\n`);
      },
    });
    writeCertPair(managedPaths(config.data_dir), got.certPem, got.keyPem);
    await store.finishAttempt(attempt, { ok: true, serial: got.info.serial, notAfter: got.info.notAfter, now: Date.now() });
    console.log(`Installed a certificate for ${got.info.names.join(', ')} from ${got.info.issuer}, valid until ${new Date(got.info.notAfter).toISOString()}.`);
    console.log(`Files: ${managedPaths(config.data_dir).cert} (a running Hearth serves it at once).`);
    return 0;
  } catch (e) {
    const x = explainAcmeError(e, { domain, directoryUrl: url, challenge, httpPort: config.acme_http_port });
    await store.finishAttempt(attempt, { ok: false, error: `${x.title} ${x.detail}`.slice(0, 2000), now: Date.now() }).catch(() => undefined);
    console.error(`${x.title}\n${x.fix}\n(${x.detail})`);
    return 1;
  } finally {
    await stopOwn?.();
    await db.close();
  }
}

async function status(values: Values): Promise<number> {
  const config = await loadConfigForCli(values);
  const pair = readCertPair(managedPaths(config.data_dir));
  if (!pair) {
    console.log(config.tls_cert ? `HTTPS uses ${config.tls_cert} (not managed by Hearth).` : 'No managed certificate yet (the self-signed setup certificate is used until one exists).');
    return 0;
  }
  const i = pair.info;
  const left = i.notAfter - Date.now();
  console.log(`Certificate for ${i.names.join(', ')}`);
  console.log(`  issuer:     ${i.issuer}`);
  console.log(`  valid:      ${new Date(i.notBefore).toISOString()} → ${new Date(i.notAfter).toISOString()} (${Math.floor(left / 86400_000)} days left)`);
  console.log(`  renews at:  ${new Date(renewAt(i)).toISOString()}`);
  if (left < WARN_BEFORE_EXPIRY_MS) console.log(`  WARNING:    ${left <= 0 ? 'expired' : 'expires soon and has not been renewed'}`);
  const db = await openDatabaseForCli(config.data_dir);
  try {
    const attempts = await new ApplianceStore(db).recentAttempts(i.names[0] ?? '', 5);
    if (attempts.length) console.log('Recent attempts:');
    for (const a of attempts) {
      console.log(`  ${new Date(a.started_ts).toISOString()} ${a.reason.padEnd(8)} ${a.ok === null ? 'running' : a.ok ? 'ok' : `failed: ${a.error}`}`);
    }
  } finally {
    await db.close();
  }
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, 'cert', true);
  if (values.help || positionals.length === 0) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const [sub, ...rest] = positionals;
  if (rest.length) throw new UsageError(`cert: unexpected argument '${rest[0]}'`);
  if (sub === 'obtain') return obtain(values);
  if (sub === 'status') return status(values);
  throw new UsageError(`cert: unknown subcommand '${sub}' (see hearth cert --help)`);
}
