/**
 * Every configuration option, in one place. Each option can be set in DATA_DIR/config.yaml
 * (or config.json, or --config FILE), overridden by the HEARTH_<KEY> environment variable,
 * overridden by the command-line flag. `hearth config` prints this table as documentation.
 */

export type OptionType = 'string' | 'integer' | 'boolean' | 'string-list' | 'enum' | 'listen-list';

export interface OptionSpec {
  key: keyof Config;
  type: OptionType;
  /** Values allowed for `enum`. */
  values?: readonly string[];
  /** Command-line flag (`hearth serve`), when there is one. */
  flag?: string;
  description: string;
  /** Extra validation; returns an error message or undefined. */
  check?: (value: never) => string | undefined;
}

export interface Config {
  /** Directory holding the database, keys, media, certificates and config. Flag/env only. */
  data_dir: string;
  server_name: string | null;
  public_baseurl: string | null;
  listen: string[];
  listen_tls: string[];
  tls_cert: string | null;
  tls_key: string | null;
  log_level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  open_registration: boolean;
  rate_limits: boolean;
  presence: boolean;
  max_upload_size: number;
  federation_ca: string | null;
  federation_allow_private: boolean;
  federation_key_notaries: string[];
  federation_backoff_max_ms: number;
  shutdown_timeout_ms: number;
  acme_directory_url: string;
  acme_staging_directory_url: string;
  acme_email: string | null;
  acme_ca_file: string | null;
  acme_http_port: number;
  dns_servers: string[];
  public_ip_url: string;
  ui_dir: string | null;
  access_token_lifetime_ms: number;
  turn_uris: string[];
  turn_shared_secret: string | null;
  turn_ttl: number;
  backup_repo: string | null;
  backup_schedule: string | null;
  backup_retention: string | null;
  backup_ca_cert: string | null;
  backup_s3_bucket_lookup: 'auto' | 'dns' | 'path' | null;
  backup_s3_region: string | null;
  backup_upload_limit_kib: number;
  // Media repository (server/services/media).
  media_user_quota: number;
  media_legacy_unauthenticated: boolean;
  media_max_image_pixels: number;
  media_thumbnail_concurrency: number;
  media_remote_retention_days: number;
  url_preview_enabled: boolean;
  url_preview_allow_private: boolean;
  url_preview_ip_allowlist: string[];
}

/** Let's Encrypt's ACME directories (RFC 8555). Staging issues untrusted certificates but has generous rate limits. */
export const LETS_ENCRYPT_PRODUCTION = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';

export const DEFAULTS: Config = {
  data_dir: './data',
  server_name: null,
  public_baseurl: null,
  listen: ['127.0.0.1:8008'],
  listen_tls: [],
  tls_cert: null,
  tls_key: null,
  log_level: 'info',
  open_registration: false,
  rate_limits: true,
  presence: true,
  max_upload_size: 100 * 1024 * 1024,
  federation_ca: null,
  federation_allow_private: false,
  federation_key_notaries: ['matrix.org'],
  federation_backoff_max_ms: 3600_000,
  shutdown_timeout_ms: 8000,
  acme_directory_url: LETS_ENCRYPT_PRODUCTION,
  acme_staging_directory_url: LETS_ENCRYPT_STAGING,
  acme_email: null,
  acme_ca_file: null,
  acme_http_port: 80,
  dns_servers: [],
  public_ip_url: 'https://api.ipify.org',
  ui_dir: null,
  access_token_lifetime_ms: 5 * 60_000,
  turn_uris: [],
  turn_shared_secret: null,
  turn_ttl: 86400,
  backup_repo: null,
  backup_schedule: null,
  backup_retention: null,
  backup_ca_cert: null,
  backup_s3_bucket_lookup: null,
  backup_s3_region: null,
  backup_upload_limit_kib: 0,
  media_user_quota: 5 * 1024 * 1024 * 1024,
  media_legacy_unauthenticated: false,
  media_max_image_pixels: 40_000_000,
  media_thumbnail_concurrency: 2,
  media_remote_retention_days: 90,
  url_preview_enabled: true,
  url_preview_allow_private: false,
  url_preview_ip_allowlist: [],
};

const isServerName = (v: string): string | undefined =>
  /^(\[[0-9a-fA-F:.]+\]|[0-9a-zA-Z.-]{1,255})(:\d{1,5})?$/.test(v)
    ? undefined
    : `expected a server name such as example.org or example.org:8448, got '${v}'`;

const isBaseUrl = (v: string): string | undefined => {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:' ? undefined : `expected an http(s) URL, got '${v}'`;
  } catch {
    return `expected a URL such as https://matrix.example.org, got '${v}'`;
  }
};

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'data_dir', type: 'string', flag: '--data-dir', description: 'Directory for the database, keys, media, certificates and config.yaml. Default ./data.' },
  { key: 'server_name', type: 'string', flag: '--server-name', check: isServerName as (v: never) => string | undefined, description: 'The Matrix server name (the part after the colon in @me:example.org). Permanent once chosen. Without it the setup wizard asks for it.' },
  { key: 'public_baseurl', type: 'string', flag: '--public-baseurl', check: isBaseUrl as (v: never) => string | undefined, description: 'The URL clients and servers reach Hearth on when it differs from the server name, e.g. https://matrix.example.org. Drives .well-known delegation.' },
  { key: 'listen', type: 'listen-list', flag: '--listen', description: 'Plain-HTTP listeners as HOST:PORT (repeatable flag; list in the file). Default 127.0.0.1:8008.' },
  { key: 'listen_tls', type: 'listen-list', flag: '--listen-tls', description: 'HTTPS listeners as HOST:PORT (repeatable flag). They use tls_cert/tls_key when set, otherwise the managed certificate.' },
  { key: 'tls_cert', type: 'string', flag: '--tls-cert', description: 'PEM certificate chain for HTTPS listeners (with tls_key). Default: the managed certificate.' },
  { key: 'tls_key', type: 'string', flag: '--tls-key', description: 'PEM private key for tls_cert.' },
  { key: 'log_level', type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], flag: '--log-level', description: 'Log verbosity. Logs are JSON lines on stdout (journald).' },
  { key: 'open_registration', type: 'boolean', flag: '--open-registration', description: 'Let anyone register without a registration token. Off by default; meant for tests and benchmarks.' },
  { key: 'rate_limits', type: 'boolean', description: 'Per-user and per-IP rate limiting. On by default; `--no-rate-limits` turns it off.' },
  { key: 'presence', type: 'boolean', description: 'Track and share presence (online/offline). Costly on small boards; can be turned off.' },
  { key: 'max_upload_size', type: 'integer', description: 'Largest media upload in bytes.', check: ((v: number) => (v > 0 ? undefined : 'must be positive')) as (v: never) => string | undefined },
  { key: 'federation_ca', type: 'string', flag: '--federation-ca', description: 'Extra CA certificate file (PEM) trusted for outbound federation, for tests and LAN setups.' },
  { key: 'federation_allow_private', type: 'boolean', flag: '--federation-allow-private', description: 'Allow federation to private, loopback and link-local addresses. Off by default.' },
  { key: 'federation_key_notaries', type: 'string-list', description: "Notary servers asked for another server's signing keys when that server cannot be reached directly. Empty: only ask servers themselves." },
  { key: 'federation_backoff_max_ms', type: 'integer', description: 'Longest wait between delivery attempts to an unreachable server (the wait doubles after each failure up to this). A server that contacts us is retried at once.', check: ((v: number) => (v >= 100 ? undefined : 'must be at least 100')) as (v: never) => string | undefined },
  { key: 'acme_directory_url', type: 'string', flag: '--acme-directory', check: isBaseUrl as (v: never) => string | undefined, description: "ACME directory the certificate comes from. Default Let's Encrypt production." },
  { key: 'acme_staging_directory_url', type: 'string', check: ((v: string) => (v === 'off' ? undefined : isBaseUrl(v))) as (v: never) => string | undefined, description: "ACME directory tried first as a dry run (Let's Encrypt staging by default), so a setup mistake does not use up production rate limits. `off` skips the dry run." },
  { key: 'acme_email', type: 'string', flag: '--acme-email', description: 'Contact e-mail for the ACME account (expiry warnings from the certificate authority). Optional.' },
  { key: 'acme_ca_file', type: 'string', description: 'Extra CA certificate (PEM) trusted when talking to the ACME server, for tests with a private ACME server such as Pebble.' },
  { key: 'acme_http_port', type: 'integer', description: 'The port the certificate authority connects to for HTTP-01 (and the reachability check uses). 80 on the internet; tests change it.', check: ((v: number) => (v > 0 && v < 65536 ? undefined : 'must be a port number')) as (v: never) => string | undefined },
  { key: 'dns_servers', type: 'string-list', flag: '--dns-server', description: 'DNS servers (IP or IP:PORT) for federation discovery and the setup checks. Empty: the system resolver.' },
  { key: 'public_ip_url', type: 'string', check: ((v: string) => (v === 'off' ? undefined : isBaseUrl(v))) as (v: never) => string | undefined, description: "URL that answers with this box's public IP address, shown next to the DNS check. `off` disables the lookup." },
  { key: 'ui_dir', type: 'string', description: 'Directory holding the built setup wizard and dashboard. Default: dist/ui next to the program.' },
  { key: 'shutdown_timeout_ms', type: 'integer', description: 'How long SIGTERM waits for in-flight requests before closing them.', check: ((v: number) => (v >= 0 && v <= 9000 ? undefined : 'must be between 0 and 9000')) as (v: never) => string | undefined },
  { key: 'access_token_lifetime_ms', type: 'integer', description: 'Lifetime of access tokens issued to clients that support refresh tokens (they refresh before it ends; others get tokens that do not expire).', check: ((v: number) => (v >= 1000 ? undefined : 'must be at least 1000')) as (v: never) => string | undefined },
  { key: 'turn_uris', type: 'string-list', description: 'TURN server URIs handed to clients for VoIP calls, e.g. turn:turn.example.org:3478?transport=udp. Empty: no TURN.' },
  { key: 'turn_shared_secret', type: 'string', description: "Shared secret of the TURN server (coturn's static-auth-secret / use-auth-secret) for time-limited credentials." },
  { key: 'turn_ttl', type: 'integer', description: 'Lifetime of TURN credentials, in seconds.', check: ((v: number) => (v > 0 ? undefined : 'must be positive')) as (v: never) => string | undefined },
  // Backups (server/appliance/backups). Unset options fall back to what the dashboard saved, then to the built-in default.
  // Secrets are never options: the passphrase and S3 keys live in DATA_DIR/secrets/ (mode 0600).
  { key: 'backup_repo', type: 'string', description: 'Where backups go, in restic repository syntax: s3:https://HOST/BUCKET/PREFIX (any S3-compatible store) or an absolute directory (a USB disk). S3 keys: DATA_DIR/secrets/backup-s3.json, else the AWS_* environment. Unset: as set up in the wizard or dashboard.' },
  { key: 'backup_schedule', type: 'string', check: ((v: string) => (v === 'off' || /^([01]\d|2[0-3]):[0-5]\d$/.test(v) ? undefined : "expected a daily time HH:MM such as 03:30, or 'off'")) as (v: never) => string | undefined, description: "Daily backup time HH:MM in the server's local time, or `off`. Default 03:30." },
  { key: 'backup_retention', type: 'string', check: ((v: string) => (/^(daily|weekly|monthly)=\d{1,3}(,\s*(daily|weekly|monthly)=\d{1,3})*$/.test(v) ? undefined : 'expected e.g. daily=7,weekly=4,monthly=6')) as (v: never) => string | undefined, description: 'Snapshots kept by retention, e.g. daily=7,weekly=4,monthly=6 (the default).' },
  { key: 'backup_ca_cert', type: 'string', description: 'Extra CA certificate (PEM) trusted for the backup S3 endpoint, for a self-hosted MinIO or tests. Default: the system roots.' },
  { key: 'backup_s3_bucket_lookup', type: 'enum', values: ['auto', 'dns', 'path'], description: 'S3 bucket addressing: path for MinIO-style servers, dns for virtual-hosted buckets, auto (default) lets restic choose.' },
  { key: 'backup_s3_region', type: 'string', description: 'S3 region of the backup bucket, when the endpoint needs one (e.g. eu-central-1).' },
  { key: 'backup_upload_limit_kib', type: 'integer', check: ((v: number) => (v >= 0 ? undefined : 'must be 0 (unlimited) or positive')) as (v: never) => string | undefined, description: 'Upload bandwidth cap for backups in KiB/s, so a backup never saturates a home uplink. 0 = unlimited.' },
  { key: 'media_user_quota', type: 'integer', description: 'Most bytes of media one local user may store (uploads past it get 403 M_FORBIDDEN). 0 = no quota.', check: ((v: number) => (v >= 0 ? undefined : 'must be 0 or more')) as (v: never) => string | undefined },
  { key: 'media_legacy_unauthenticated', type: 'boolean', description: 'Serve media on the deprecated unauthenticated /_matrix/media/v3 download and thumbnail endpoints. Off by default (the spec\'s "freeze"): media that arrived while it was on stays reachable there after it is turned off.' },
  { key: 'media_max_image_pixels', type: 'integer', description: 'Largest image (width x height) that is thumbnailed; bigger ones get 413 M_TOO_LARGE. Guards against decompression bombs.', check: ((v: number) => (v >= 1_000_000 ? undefined : 'must be at least 1000000')) as (v: never) => string | undefined },
  { key: 'media_thumbnail_concurrency', type: 'integer', description: 'Images thumbnailed at the same time; more wait in a bounded queue. Bounds memory on small boards.', check: ((v: number) => (v >= 1 && v <= 16 ? undefined : 'must be between 1 and 16')) as (v: never) => string | undefined },
  { key: 'media_remote_retention_days', type: 'integer', description: 'Cached remote media older than this many days is deleted (fetched again on demand). 0 = keep forever.', check: ((v: number) => (v >= 0 ? undefined : 'must be 0 or more')) as (v: never) => string | undefined },
  { key: 'url_preview_enabled', type: 'boolean', description: 'Answer preview_url: Hearth fetches links clients ask about (OpenGraph title, description, image).' },
  { key: 'url_preview_allow_private', type: 'boolean', description: 'Let URL previews fetch private, loopback and link-local addresses. Off by default (SSRF protection).' },
  { key: 'url_preview_ip_allowlist', type: 'string-list', description: 'Addresses or CIDR ranges URL previews may fetch even though they are private, e.g. 192.168.1.10 or 10.0.0.0/8.' },
];

/** `HEARTH_SERVER_NAME` for `server_name`. */
export function envName(key: string): string {
  return `HEARTH_${key.toUpperCase()}`;
}

/** Markdown table of every option, used by `hearth config` and kept in server/config/OPTIONS.md. */
export function renderOptionsDoc(): string {
  const lines = [
    '# Hearth configuration options',
    '',
    'Set in `DATA_DIR/config.yaml` (or `config.json`, or `--config FILE`), overridden by the environment',
    'variable, overridden by the flag. Generated from `server/config/schema.ts` (`hearth config`).',
    '',
    '| key | type | default | environment | flag | meaning |',
    '|---|---|---|---|---|---|',
  ];
  for (const o of OPTIONS) {
    const type = o.type === 'enum' ? o.values!.join(' \\| ') : o.type;
    const def = JSON.stringify(DEFAULTS[o.key]);
    lines.push(`| \`${o.key}\` | ${type} | \`${def}\` | \`${envName(o.key)}\` | ${o.flag ? `\`${o.flag}\`` : ''} | ${o.description} |`);
  }
  return lines.join('\n') + '\n';
}
