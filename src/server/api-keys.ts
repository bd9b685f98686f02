import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuditError } from '../errors.js';
import type { AuditTrail } from '../sdk/audit-trail.js';
import type { ApiKeyRow, AuditStore } from '../store/store.js';

/** What a key may do; each route names the scopes it accepts (docs/server.md, "Scopes"). */
export const SCOPES = ['ingest', 'read', 'decide', 'approve', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** The authenticated caller of a request: a key's id, tenant, name and scopes. */
export interface Principal {
  keyId: string;
  tenant: string;
  /** The key's name: the approver recorded for approvals made with this key. */
  name: string;
  scopes: readonly Scope[];
}

/** A new key as `create` returns it: the secret is in `key`, shown once and never stored. */
export interface CreatedKey {
  key: string;
  id: string;
  tenant: string;
  name: string;
  scopes: Scope[];
  created_at: string;
}

/** A key as listings show it: never the secret, never its hash. */
export interface KeyInfo {
  id: string;
  tenant: string;
  name: string;
  scopes: string[];
  created_at: string;
  revoked_at: string | null;
}

// `atr_` + 16 hex (the public id) + `_` + 43 base64url characters (256 random bits).
const KEY_RE = /^(atr_[0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Parses a comma-separated scope list (`ingest,read`), refusing unknown scopes. */
export function parseScopes(text: string): Scope[] {
  const out = new Set<Scope>();
  for (const s of text.split(',').map((x) => x.trim())) {
    if (!(SCOPES as readonly string[]).includes(s)) {
      throw new AuditError('invalid_argument', `unknown scope '${s}' (scopes: ${SCOPES.join(', ')})`);
    }
    out.add(s as Scope);
  }
  if (out.size === 0) throw new AuditError('invalid_argument', 'at least one scope is needed');
  return [...out];
}

function info(r: ApiKeyRow): KeyInfo {
  return {
    id: r.id,
    tenant: r.tenant,
    name: r.name,
    scopes: r.scopes,
    created_at: r.createdAt,
    revoked_at: r.revokedAt,
  };
}

/**
 * API keys of `auditrail serve`: 256-bit random secrets shown once, stored as SHA-256 hashes under
 * a public id, compared in constant time. Creating and revoking a key is recorded in its tenant's
 * log (`key.created`, `key.revoked`) with the key's id, name and scopes, never the secret.
 *
 * @example
 * const keys = new ApiKeys(store);
 * const { key } = await keys.create({ tenant: 'acme', name: 'ci-bot', scopes: ['ingest'] }, trail);
 * (await keys.authenticate(key))?.tenant; // 'acme'
 */
export class ApiKeys {
  constructor(
    private readonly store: AuditStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Creates a key and records `key.created` in `trail` (the tenant's log). */
  async create(
    spec: { tenant: string; name: string; scopes: readonly Scope[]; createdBy?: string },
    trail: AuditTrail,
  ): Promise<CreatedKey> {
    if (!NAME_RE.test(spec.name)) {
      throw new AuditError(
        'invalid_argument',
        'key name must be 1-64 characters of letters, digits, ".", "_", "@" or "-"',
      );
    }
    if (trail.tenant !== spec.tenant) {
      throw new AuditError('invalid_argument', `the trail is of tenant ${trail.tenant}, not ${spec.tenant}`);
    }
    const id = `atr_${randomBytes(8).toString('hex')}`;
    const key = `${id}_${randomBytes(32).toString('base64url')}`;
    const createdAt = new Date(this.now()).toISOString();
    const scopes = [...new Set(spec.scopes)];
    await this.store.putApiKey({
      id,
      hash: sha256(key),
      tenant: spec.tenant,
      name: spec.name,
      scopes,
      createdAt,
      revokedAt: null,
    });
    await trail.record({
      type: 'key.created',
      actor: { type: 'user', id: spec.createdBy ?? 'auditrail' },
      action: { type: 'apikey.create', target: id, params: { name: spec.name, scopes } },
    });
    return { key, id, tenant: spec.tenant, name: spec.name, scopes, created_at: createdAt };
  }

  /** Revokes a key at once (the server checks every request) and records `key.revoked`. */
  async revoke(id: string, trailOf: (tenant: string) => Promise<AuditTrail>, by?: string): Promise<KeyInfo> {
    const row = await this.store.getApiKey(id);
    if (!row) throw new AuditError('not_found', `no API key ${id}`);
    if (row.revokedAt !== null) throw new AuditError('conflict', `API key ${id} is already revoked`);
    const at = new Date(this.now()).toISOString();
    if (!(await this.store.revokeApiKey(id, at)))
      throw new AuditError('conflict', `API key ${id} was revoked concurrently`);
    const trail = await trailOf(row.tenant);
    await trail.record({
      type: 'key.revoked',
      actor: { type: 'user', id: by ?? 'auditrail' },
      action: { type: 'apikey.revoke', target: id, params: { name: row.name } },
    });
    return info({ ...row, revokedAt: at });
  }

  /** Every key (revoked ones too), or those of one tenant; never a secret. */
  async list(tenant?: string): Promise<KeyInfo[]> {
    return (await this.store.listApiKeys(tenant)).map(info);
  }

  /** True when no key exists at all (a new server prints its first admin key). */
  async none(): Promise<boolean> {
    return (await this.store.listApiKeys()).length === 0;
  }

  /**
   * The principal of a presented key, or undefined for a malformed, unknown or revoked one. The
   * hash comparison is constant-time; the lookup by public id reveals nothing about the secret.
   */
  async authenticate(presented: string): Promise<Principal | undefined> {
    const m = KEY_RE.exec(presented);
    if (!m) return undefined;
    const row = await this.store.getApiKey(m[1]!);
    const hash = sha256(presented);
    if (!row || row.hash.length !== hash.length || !timingSafeEqual(row.hash, hash)) return undefined;
    if (row.revokedAt !== null) return undefined;
    return {
      keyId: row.id,
      tenant: row.tenant,
      name: row.name,
      scopes: row.scopes.filter((s): s is Scope => (SCOPES as readonly string[]).includes(s)),
    };
  }
}
