// Readiness and watchdog pings for systemd (hearth.service is Type=notify with WatchdogSec=).
//
// systemd's notify protocol is a datagram on the AF_UNIX socket named by NOTIFY_SOCKET, and
// Node has no unix datagram sockets. So we run the `systemd-notify` binary as a child process:
// the unit sets NotifyAccess=all so messages from a child of the main process count, and
// systemd-notify waits (BARRIER=1, systemd ≥ 246) until the manager has read the message, so
// the message is not lost when the short-lived sender exits first. One exec every
// WatchdogSec/2 seconds is cheap. Without NOTIFY_SOCKET (not under systemd) everything here
// is a no-op.
import { execFile } from 'node:child_process';

const BINARY = 'systemd-notify';
let warned = false;

function underSystemd(): boolean {
  return Boolean(process.env.NOTIFY_SOCKET);
}

function send(fields: string[], done?: () => void): void {
  execFile(BINARY, fields, { timeout: 10_000, windowsHide: true }, (err) => {
    // A missing or failing systemd-notify must never take the server down; with a watchdog
    // configured, systemd restarts us if the pings stop arriving, which is the right outcome.
    if (err && !warned) {
      warned = true;
      process.emitWarning(`systemd-notify ${fields.join(' ')} failed: ${err.message}`, 'HearthSystemdNotify');
    }
    done?.();
  });
}

/** READY=1 once the server listens: a Type=notify unit counts as started only now. */
export function notifyReady(): void {
  if (!underSystemd()) return;
  send(['--ready', `--pid=${process.pid}`, 'STATUS=Serving']);
}

/** STOPPING=1 at the start of a graceful shutdown, so systemd shows "deactivating". */
export function notifyStopping(): void {
  if (!underSystemd()) return;
  send(['STOPPING=1', 'STATUS=Shutting down']);
}

/**
 * Sends WATCHDOG=1 every half of WATCHDOG_USEC while the event loop keeps running; a hung
 * loop stops the pings and systemd kills and restarts the service. Returns a stop function.
 * No-op (returns a no-op) when not under systemd or when the unit has no WatchdogSec=.
 */
export function startWatchdog(): () => void {
  if (!underSystemd()) return () => {};
  const usec = Number(process.env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return () => {};
  // WATCHDOG_PID names the process the watchdog is meant for; a child that inherited the
  // environment must not ping on the parent's behalf.
  const pid = process.env.WATCHDOG_PID;
  if (pid && Number(pid) !== process.pid) return () => {};

  const intervalMs = Math.max(1, Math.floor(usec / 2 / 1000));
  let inFlight = false;
  const timer = setInterval(() => {
    // Skip a tick rather than pile up children if one systemd-notify is still waiting.
    if (inFlight) return;
    inFlight = true;
    send(['WATCHDOG=1'], () => {
      inFlight = false;
    });
  }, intervalMs);
  // The watchdog alone must not keep the process alive during shutdown.
  timer.unref();
  return () => clearInterval(timer);
}
