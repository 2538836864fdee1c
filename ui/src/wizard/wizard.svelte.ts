// The wizard's client state: the server's WizardState plus what the page is doing. The server is
// the source of truth (a reload or a second browser resumes); this only mirrors it.
import { ApiError, setupApi } from '../lib/api';
import { setSetupToken, setupToken } from '../lib/session';
import { navigate } from '../lib/router.svelte';
import type { StepId, WizardState } from '../lib/types';
import { STEP_ORDER } from './steps';

export class Wizard {
  state = $state<WizardState | null>(null);
  claimed = $state(false);
  busy = $state(false);
  error = $state<string | null>(null);

  /** Checks a token (from the claim form or storage) and loads the state. */
  async claim(token: string): Promise<boolean> {
    this.busy = true;
    this.error = null;
    try {
      const r = await setupApi<{ ok: boolean; state: WizardState }>('POST', '/claim', {}, token.trim());
      setSetupToken(token.trim());
      this.claimed = true;
      this.state = r.state;
      return true;
    } catch (e) {
      this.error = (e as Error).message;
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) setSetupToken(null);
      return false;
    } finally {
      this.busy = false;
    }
  }

  async resume(): Promise<void> {
    const t = setupToken();
    if (t) await this.claim(t);
  }

  async refresh(): Promise<void> {
    this.state = await setupApi<WizardState>('GET', '/state');
  }

  /** Runs an API call that returns the new state; shows its error message on failure. */
  async act(fn: () => Promise<WizardState>): Promise<boolean> {
    this.busy = true;
    this.error = null;
    try {
      this.state = await fn();
      this.syncUrl();
      return true;
    } catch (e) {
      this.error = (e as Error).message;
      return false;
    } finally {
      this.busy = false;
    }
  }

  go(step: StepId): Promise<boolean> {
    return this.act(() => setupApi<WizardState>('PUT', '/step', { step }));
  }

  /** The step after the current one in the table (restore has no "next" of its own). */
  next(): StepId | null {
    const i = STEP_ORDER.indexOf(this.state?.step as (typeof STEP_ORDER)[number]);
    return i >= 0 && i < STEP_ORDER.length - 1 ? STEP_ORDER[i + 1]! : null;
  }

  prev(): StepId | null {
    if (this.state?.step === 'restore') return 'welcome';
    const i = STEP_ORDER.indexOf(this.state?.step as (typeof STEP_ORDER)[number]);
    return i > 0 ? STEP_ORDER[i - 1]! : null;
  }

  done(step: StepId): boolean {
    return !!this.state?.steps.find((s) => s.id === step)?.done;
  }

  syncUrl(replace = false): void {
    if (this.state) navigate(`/setup/${this.state.step}`, replace);
  }
}
