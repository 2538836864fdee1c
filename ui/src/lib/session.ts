// Where the browser keeps the setup token (while setup is open) and the admin's Matrix session.
// localStorage so a reload or a new tab resumes; cleared when setup finishes or on sign-out.
const SETUP = 'hearth.setupToken';
const ADMIN = 'hearth.admin';

export function setupToken(): string | null {
  return localStorage.getItem(SETUP);
}
export function setSetupToken(t: string | null): void {
  if (t) localStorage.setItem(SETUP, t);
  else localStorage.removeItem(SETUP);
}

export interface AdminSession {
  accessToken: string;
  userId: string;
}
export function adminSession(): AdminSession | null {
  try {
    return JSON.parse(localStorage.getItem(ADMIN) ?? 'null') as AdminSession | null;
  } catch {
    return null;
  }
}
export function setAdminSession(s: AdminSession | null): void {
  if (s) localStorage.setItem(ADMIN, JSON.stringify(s));
  else localStorage.removeItem(ADMIN);
}

/** A token handed over in the URL fragment when the wizard moves to its HTTPS address. */
export function takeTokenFromFragment(): void {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    setSetupToken(decodeURIComponent(m[1]!));
    history.replaceState(null, '', location.pathname + location.search);
  }
}
