// Shapes of the wizard API (server/appliance/setup/wizard.ts).
export type StepId = 'welcome' | 'admin' | 'names' | 'certificate' | 'delegation' | 'selftest' | 'backups' | 'done' | 'restore';

export interface Explained {
  title: string;
  fix: string;
  detail: string;
}

export interface CertJob {
  domain: string;
  challenge: 'http-01' | 'dns-01';
  state: 'running' | 'done' | 'failed';
  stage: 'staging' | 'production';
  status: { phase: string; message: string; dns?: { name: string; value: string } };
  error?: Explained;
  cert?: { names: string[]; issuer: string; notAfter: number };
}

export interface WizardState {
  step: StepId;
  completed: boolean;
  steps: { id: StepId; done: boolean; blocked: string | null }[];
  mode: 'new' | 'restore' | null;
  admin: { localpart: string | null; userId: string | null; created: boolean };
  names: { serverName: string | null; publicHost: string | null; locked: boolean; lockedReason: string | null };
  certificate: {
    challenge: 'http-01' | 'dns-01' | null;
    email: string | null;
    job: CertJob | null;
    managed: { names: string[]; issuer: string; notAfter: number } | null;
    operatorCert: boolean;
    httpPort: number;
  };
  delegation: { needed: boolean; ok: boolean; server: unknown; client: unknown; snippets: Record<string, string> | null };
  selftest: { ok: boolean };
}

export interface CheckMessage {
  level: 'ok' | 'warn' | 'error';
  text: string;
}
