import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Principal } from '../api-keys.js';

/** The session cookie: HttpOnly, SameSite=Strict, Path=/ (Secure behind TLS). */
export const SESSION_COOKIE = 'auditrail_session';
/** The pre-login CSRF cookie of the sign-in form (double submit: no session exists yet). */
export const LOGIN_COOKIE = 'auditrail_login';

/** A session ends after this long without a request. */
export const IDLE_MS = 8 * 60 * 60 * 1000;
/** At most this many live sessions; the least recently used goes first. */
const MAX_SESSIONS = 10_000;

export interface Session {
  principal: Principal;
  /** The synchronizer token every state-changing form carries. */
  csrf: string;
  lastSeen: number;
}

function token(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison of two tokens (hashed first, so lengths leak nothing). */
export function sameToken(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length > 0;
}

/**
 * Server-side sessions of the dashboard, in memory (a restart signs everyone out). The cookie
 * holds only a random 256-bit id; the API key itself never leaves the sign-in request.
 */
export class Sessions {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  create(principal: Principal): { id: string; session: Session } {
    if (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const id = token();
    const session: Session = { principal, csrf: token(), lastSeen: this.now() };
    this.sessions.set(id, session);
    return { id, session };
  }

  /** The live session of a cookie value, touched (moved to most recently used). */
  get(id: string | undefined): Session | undefined {
    if (id === undefined) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    this.sessions.delete(id);
    if (this.now() - s.lastSeen > IDLE_MS) return undefined;
    s.lastSeen = this.now();
    this.sessions.set(id, s);
    return s;
  }

  delete(id: string | undefined): void {
    if (id !== undefined) this.sessions.delete(id);
  }

  /** A fresh random token (pre-login CSRF). */
  static token(): string {
    return token();
  }
}

/** Cookie values of a `Cookie` header (the first of each name). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!header) return out;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    const name = part.slice(0, i).trim();
    const value = part.slice(i + 1).trim();
    if (!out.has(name) && /^[A-Za-z0-9_-]{1,200}$/.test(value)) out.set(name, value);
  }
  return out;
}

/** A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure when served over TLS. */
export function cookie(name: string, value: string, options: { secure: boolean; maxAgeS?: number }): string {
  return [
    `${name}=${value}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    ...(options.secure ? ['Secure'] : []),
    ...(options.maxAgeS !== undefined ? [`Max-Age=${options.maxAgeS}`] : []),
  ].join('; ');
}
