/**
 * Wakes long-polling /sync requests the moment something relevant to a user commits. Writers call
 * `notifyUsers` from `tx.afterCommit` (or, for in-memory streams such as typing, right away);
 * /sync registers a listener *before* it computes its response, so a change that commits while
 * the response is being computed still wakes it (no lost wake-ups).
 */

export interface Listener {
  /** Resolves when the user is notified, the timeout passes, or the signal aborts. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /** True once notified. */
  readonly fired: boolean;
  cancel(): void;
}

class UserListener implements Listener {
  fired = false;
  private wake: (() => void) | null = null;

  constructor(private readonly detach: (l: UserListener) => void) {}

  fire(): void {
    this.fired = true;
    this.wake?.();
  }

  cancel(): void {
    this.detach(this);
  }

  wait(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (this.fired) return Promise.resolve(true);
    if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.wake = null;
        resolve(v);
      };
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wake = () => done(true);
    });
  }
}

export class Notifier {
  private readonly listeners = new Map<string, Set<UserListener>>();

  /** Registers a one-shot listener for `userId`; cancel() it when done. */
  listen(userId: string): Listener {
    const l = new UserListener((x) => this.remove(userId, x));
    let set = this.listeners.get(userId);
    if (!set) this.listeners.set(userId, (set = new Set()));
    set.add(l);
    return l;
  }

  private remove(userId: string, l: UserListener): void {
    const set = this.listeners.get(userId);
    if (!set) return;
    set.delete(l);
    if (set.size === 0) this.listeners.delete(userId);
  }

  notifyUser(userId: string): void {
    const set = this.listeners.get(userId);
    if (!set) return;
    this.listeners.delete(userId);
    for (const l of set) l.fire();
  }

  notifyUsers(userIds: Iterable<string>): void {
    for (const u of userIds) this.notifyUser(u);
  }

  /** Number of users with a waiting request (for stats). */
  get waitingUsers(): number {
    return this.listeners.size;
  }

  /** Number of registered listeners, i.e. /sync requests computing or waiting (for stats and tests). */
  get waitingRequests(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}
