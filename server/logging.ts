/**
 * Structured logging: JSON lines on stdout (journald keeps them). Secrets never reach a log:
 * request paths are logged with secret query parameters masked, and pino's redaction masks
 * known secret-bearing fields wherever a caller logs an object by mistake.
 */
import { writeSync } from 'node:fs';
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

/**
 * Loggers for the one line per request, keyed by the general logger they write beside: the same
 * level and destination, without redaction. That line's fields are fixed (method, a path
 * already masked by safePath, status, ms), so walking them for secret fields on every request
 * (a tenth of a whoami's logging cost) finds nothing.
 */
const requestLoggers = new WeakMap<Logger, Logger>();

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const log = pino(
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
  // The stream pino chose (stdout by default), shared so lines keep their order.
  const dest = (log as unknown as Record<symbol, pino.DestinationStream>)[pino.symbols.streamSym]!;
  requestLoggers.set(log, pino({ level, base: undefined }, dest));
  return log;
}

/**
 * The logger for request lines written beside `log` (see requestLoggers); `log` itself for a
 * logger made elsewhere. Only for objects whose every field is known to be free of secrets.
 */
export function requestLoggerFor(log: Logger): Logger {
  return requestLoggers.get(log) ?? log;
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

/** How long a log line may wait in memory before it is written (journald sees it this late). */
const BATCH_MS = 20;

/**
 * Standard output for the server's logs, written in batches: lines collected for up to
 * BATCH_MS go out in one write. One write per line (one per request) was a tenth of the CPU a
 * simple authenticated request costs. Lines still waiting when the process exits (including
 * after a fatal error) are written synchronously then, after what pino had in flight.
 */
export function bufferedStdout(): pino.DestinationStream {
  const out = pino.destination({ dest: 1, sync: false });
  let pending = '';
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    timer = null;
    const text = pending;
    pending = '';
    if (text) out.write(text);
  };
  process.once('exit', () => {
    if (timer) clearTimeout(timer);
    const text = pending;
    pending = '';
    if (!text) return;
    try {
      writeSync(1, text);
    } catch {
      // stdout is gone: nowhere left to write
    }
  });
  return {
    write(line: string) {
      pending += line;
      if (!timer) {
        timer = setTimeout(flush, BATCH_MS);
        timer.unref();
      }
    },
  };
}
