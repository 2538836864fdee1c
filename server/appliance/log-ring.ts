/**
 * The last few hundred log lines, kept in memory for the dashboard's log tail. main.ts tees
 * the logger's output into it; nothing is read from journald (no extra process, no permissions).
 */
import pino from 'pino';
import { bufferedStdout, createLogger, type Logger } from '../logging.ts';

export interface LogLine {
  time: number;
  level: number;
  msg: string;
  /** The whole JSON line (already redacted by pino). */
  raw: string;
}

export class LogRing {
  /** Raw lines as written (parsed only when the dashboard asks: every request writes one). */
  private readonly lines: (string | LogLine | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity = 500) {
    this.lines = new Array(capacity);
  }

  push(raw: string): void {
    // A long line is parsed now so that only its first 4000 characters are kept.
    this.lines[this.next] = raw.length > 4001 ? parseLine(raw) : raw;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.capacity, this.count + 1);
  }

  /** The newest `limit` lines, oldest first; `minLevel` filters (30 info, 40 warn, 50 error). */
  tail(limit = 200, minLevel = 0): LogLine[] {
    const out: LogLine[] = [];
    for (let i = 0; i < this.count; i++) {
      const at = (this.next - this.count + i + this.capacity) % this.capacity;
      let l = this.lines[at]!;
      if (typeof l === 'string') this.lines[at] = l = parseLine(l);
      if (l.level >= minLevel) out.push(l);
    }
    return out.slice(-limit);
  }
}

function parseLine(raw: string): LogLine {
  const text = raw.endsWith('\n') ? raw.slice(0, -1) : raw;
  let time = Date.now();
  let level = 30;
  let msg = text;
  try {
    const j = JSON.parse(text) as { time?: number; level?: number; msg?: string };
    time = j.time ?? time;
    level = j.level ?? level;
    msg = j.msg ?? '';
  } catch {
    // not JSON: keep the text as the message
  }
  return { time, level, msg, raw: text.length > 4000 ? text.slice(0, 4000) + '…' : text };
}

/** A logger writing JSON lines to stdout as usual and into `ring`. */
export function createRingLogger(level: string, ring: LogRing, dest: pino.DestinationStream = bufferedStdout()): Logger {
  return createLogger(level, {
    write(line: string) {
      ring.push(line);
      dest.write(line);
    },
  });
}
