/**
 * Structured logging: JSON lines on stdout (journald keeps them). Secrets never reach a log:
 * request paths are logged with secret query parameters masked, and pino's redaction masks
 * known secret-bearing fields wherever a caller logs an object by mistake.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

const SECRET_FIELDS = [
  'password',
  'new_password',
  'access_token',
  'refresh_token',
  'token',
  'setup_token',
  'passphrase',
  'private_key',
  'key',
  'seed',
  'authorization',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: {
        paths: [
          ...SECRET_FIELDS,
          ...SECRET_FIELDS.map((f) => `*.${f}`),
          'req.headers.authorization',
          'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

const SECRET_QUERY = /^(access_token|token|refresh_token|password|setup_token|login_token|sig|key)$/i;

/** The request path with secret query parameters masked (`?access_token=[redacted]`). */
export function safePath(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  for (const name of [...params.keys()]) {
    if (SECRET_QUERY.test(name)) params.set(name, '[redacted]');
  }
  const qs = params.toString();
  return url.slice(0, q) + (qs ? `?${decodeURIComponent(qs)}` : '');
}
