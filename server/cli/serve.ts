/** `hearth serve`: run the homeserver and the setup wizard in one process. */
import { parse, UsageError } from './args.ts';
import { loadConfig } from '../config/loader.ts';
import type { Config } from '../config/schema.ts';

export const usage = `Usage: hearth serve [options]

Runs the Matrix homeserver and the setup wizard in one process.

Options:
  --data-dir DIR            data directory (default ./data)
  --listen HOST:PORT        plain-HTTP listener, repeatable (default 127.0.0.1:8008)
  --listen-tls HOST:PORT    HTTPS listener, repeatable
  --tls-cert FILE           PEM certificate chain for HTTPS listeners (with --tls-key)
  --tls-key FILE            PEM private key for --tls-cert
  --server-name NAME        Matrix server name; configures the server unattended
  --public-baseurl URL      where clients reach Hearth, when it differs from the server name
  --config FILE             config file (default DATA_DIR/config.yaml or config.json)
  --log-level LEVEL         fatal|error|warn|info|debug|trace|silent
  --open-registration       anyone may register without a token (tests, benchmarks)
  --no-rate-limits          turn rate limiting off (tests, benchmarks)
  --federation-ca FILE      extra CA trusted for outbound federation
  --federation-allow-private  allow federation to private addresses
  --acme-directory URL      ACME directory for the certificate (default Let's Encrypt)
  --acme-email E            contact e-mail for the ACME account
  --dns-server IP[:PORT]    DNS server for discovery and setup checks, repeatable (default: system)
  -h, --help                show this help

Every option can also be set in the config file or a HEARTH_* variable: see \`hearth config\`.`;

const OPTIONS = {
  'data-dir': { type: 'string' },
  listen: { type: 'string', multiple: true },
  'listen-tls': { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'server-name': { type: 'string' },
  'public-baseurl': { type: 'string' },
  config: { type: 'string' },
  'log-level': { type: 'string' },
  'open-registration': { type: 'boolean' },
  'no-rate-limits': { type: 'boolean' },
  'federation-ca': { type: 'string' },
  'federation-allow-private': { type: 'boolean' },
  'acme-directory': { type: 'string' },
  'acme-email': { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function flagsToConfig(argv: string[], command: string) {
  const { values } = parse(argv, OPTIONS, command);
  const flags: Partial<Config> = {
    data_dir: values['data-dir'],
    listen: values.listen,
    listen_tls: values['listen-tls'],
    tls_cert: values['tls-cert'],
    tls_key: values['tls-key'],
    server_name: values['server-name'],
    public_baseurl: values['public-baseurl'],
    log_level: values['log-level'] as Config['log_level'] | undefined,
    open_registration: values['open-registration'] ? true : undefined,
    rate_limits: values['no-rate-limits'] ? false : undefined,
    federation_ca: values['federation-ca'],
    federation_allow_private: values['federation-allow-private'] ? true : undefined,
    acme_directory_url: values['acme-directory'],
    acme_email: values['acme-email'],
    dns_servers: values['dns-server'],
  };
  return { flags, help: values.help === true, configFile: values.config };
}

export async function run(argv: string[]): Promise<number> {
  const { flags, help, configFile } = await flagsToConfig(argv, 'serve');
  if (help) {
    console.log(usage);
    return 0;
  }
  const { config } = await loadConfig({ flags, configFile }).catch((e) => {
    throw new UsageError((e as Error).message);
  });
  // Signal handlers go in before anything starts: a SIGTERM during startup must still end in
  // an orderly stop (systemd may stop us at any moment).
  let signalled: string | null = null;
  let onSignal: (sig: string) => void = (sig) => (signalled ??= sig);
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));

  const { startServer } = await import('../main.ts');
  const { notifyReady, notifyStopping, startWatchdog } = await import('../appliance/systemd-notify.ts');
  // A restore staged by the wizard switches in at the next start (appliance/backups): stop and
  // exit with 75 so systemd (Restart=on-failure) starts Hearth again on the restored data.
  let exitCode = 0;
  const onRestoreStaged = () => {
    exitCode = RESTART_EXIT_CODE;
    onSignal('restore');
  };
  // Lazy: services beyond the core load on first use (start time, idle memory: issue 2).
  const server = await startServer(config, { lazy: true, onRestoreStaged });
  notifyReady();
  const stopWatchdog = startWatchdog();
  await new Promise<void>((resolve) => {
    let stopping = false;
    onSignal = (sig: string) => {
      if (stopping) return;
      stopping = true;
      server.log.info({ signal: sig }, 'shutting down');
      notifyStopping();
      stopWatchdog();
      // Hard stop well inside systemd's default 10 s TimeoutStopSec if draining hangs.
      const hard = setTimeout(() => {
        server.log.error('shutdown took too long; exiting');
        process.exit(1);
      }, 9500);
      hard.unref();
      server.stop().then(resolve, (e) => {
        server.log.error({ err: e }, 'error during shutdown');
        resolve();
      });
    };
    if (signalled) onSignal(signalled);
  });
  if (exitCode === RESTART_EXIT_CODE) server.log.warn('restarting onto the restored data (exit 75; systemd starts Hearth again)');
  return exitCode;
}

/** Exit status asking the service manager to start Hearth again (EX_TEMPFAIL). */
export const RESTART_EXIT_CODE = 75;
