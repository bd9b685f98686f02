import { basename, dirname, join } from 'node:path';
import { ensureIndexTagger, readIndexTagger } from './index-key.js';
import { EMPTY_ROOT } from '../core/merkle.js';
import { AuditError } from '../errors.js';
import { openStore } from '../store/open-store.js';
import type { AuditStore, LogHead } from '../store/store.js';
import { KeyRing } from './keys.js';
import { AuditTrail, type AuditTrailOptions } from './audit-trail.js';
import type { Receipt } from '../core/append-plan.js';
import {
  RemoteAuditTrail,
  type RemoteAuditTrailOptions,
  type SpooledReceipt,
} from './remote/remote-trail.js';
import { NatsAuditTrail, type NatsAuditTrailOptions } from './remote/nats-trail.js';

export const DEFAULT_DB = './.auditrail/audit.db';
export const DEFAULT_LOG = 'default';
export const ORIGIN_HOST = 'auditrail.local';

/**
 * Where the data lives: `db` or `postgres` when given (not both), else `$AUDITRAIL_POSTGRES` or
 * `$AUDITRAIL_DB` (not both), else the default file.
 */
export function resolveDb(db?: string, postgres?: string): string {
  if (db !== undefined && postgres !== undefined)
    throw new AuditError('invalid_argument', 'give either db (a file) or postgres (a URL), not both');
  if (postgres !== undefined && !/^postgres(ql)?:\/\//i.test(postgres))
    throw new AuditError('invalid_argument', 'postgres must be a postgres:// URL');
  const given = db ?? postgres;
  if (given !== undefined) return given;
  const envPg = process.env['AUDITRAIL_POSTGRES'];
  const envDb = process.env['AUDITRAIL_DB'];
  if (envPg !== undefined && envDb !== undefined)
    throw new AuditError('invalid_argument', 'both AUDITRAIL_DB and AUDITRAIL_POSTGRES are set; unset one');
  return envPg ?? envDb ?? DEFAULT_DB;
}

/** The origin (checkpoint name) of a tenant log. */
export function originOf(tenant: string, log: string = DEFAULT_LOG): string {
  return `${ORIGIN_HOST}/t/${tenant}/${log}`;
}

/**
 * The witness state's scope in a key directory: the database file's name, or the URL without
 * credentials, so databases sharing a key directory stay apart.
 */
export function witnessScope(db: string): string {
  return db.includes('://') ? db.replace(/\/\/[^@/]*@/, '//') : basename(db);
}

/** The default key directory of a database: beside the file, or `./.auditrail/keys` for a URL. */
export function defaultKeyDir(db: string): string {
  return /^postgres(ql)?:\/\//i.test(db) ? join('.auditrail', 'keys') : join(dirname(db), 'keys');
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Opens (creating if needed) the audit trail of a tenant log; with `readonly: true`, opens an
 * existing one for reading without writing anything. Given `nats` and `tenant`, opens a
 * {@link NatsAuditTrail} publishing to a JetStream stream (docs/scale-out.md). Given `url` and `apiKey`, opens a
 * {@link RemoteAuditTrail} on an `auditrail serve` instead (docs/remote.md); with `spool`,
 * `record()` resolves once the event is fsynced in that local spool.
 *
 * @example
 * const ro = await openAuditTrail({ tenant: 'acme', readonly: true });  // verify, query, prove
 * const trail = await openAuditTrail({ tenant: 'acme' });              // ./.auditrail/audit.db
 * const pg = await openAuditTrail({ tenant: 'acme', postgres: 'postgres://127.0.0.1/audit' });
 * const remote = await openAuditTrail({ url: 'http://127.0.0.1:8700', apiKey, spool: './.auditrail/spool' });
 * const nats = await openAuditTrail({ nats: { servers: 'nats://127.0.0.1:4222', stream: 'AUDIT' }, tenant: 'acme' });
 */
export async function openAuditTrail(options: NatsAuditTrailOptions): Promise<NatsAuditTrail>;
export async function openAuditTrail(
  options: RemoteAuditTrailOptions & { spool: string },
): Promise<RemoteAuditTrail<SpooledReceipt>>;
export async function openAuditTrail(
  options: RemoteAuditTrailOptions & { spool?: undefined },
): Promise<RemoteAuditTrail<Receipt>>;
export async function openAuditTrail(options: AuditTrailOptions): Promise<AuditTrail>;
export async function openAuditTrail(
  options: AuditTrailOptions | RemoteAuditTrailOptions | NatsAuditTrailOptions,
): Promise<AuditTrail | RemoteAuditTrail | NatsAuditTrail> {
  if ('nats' in options) {
    for (const k of ['db', 'postgres', 'store', 'spool'] as const)
      if ((options as unknown as Record<string, unknown>)[k] !== undefined)
        throw new AuditError('invalid_argument', `give either nats (a JetStream stream) or ${k}, not both`);
    return NatsAuditTrail.open(options);
  }
  if ('url' in options) {
    if (
      (options as { db?: unknown }).db !== undefined ||
      (options as { postgres?: unknown }).postgres !== undefined ||
      (options as { store?: unknown }).store !== undefined
    )
      throw new AuditError('invalid_argument', 'give either url (a server) or db/store (embedded), not both');
    return new RemoteAuditTrail(options);
  }
  return openEmbedded(options);
}

async function openEmbedded(options: AuditTrailOptions): Promise<AuditTrail> {
  if (!NAME_RE.test(options.tenant)) {
    throw new AuditError(
      'invalid_argument',
      'tenant must be 1-64 characters of letters, digits, ".", "_" or "-"',
    );
  }
  const logName = options.log ?? DEFAULT_LOG;
  if (!NAME_RE.test(logName)) {
    throw new AuditError(
      'invalid_argument',
      'log must be 1-64 characters of letters, digits, ".", "_" or "-"',
    );
  }
  const db = resolveDb(options.db, options.postgres);
  const readonly = options.readonly === true;
  const store = options.store ?? (await openStore(db, { readonly }));
  const keyDir = options.keyDir !== undefined ? options.keyDir : options.store ? null : defaultKeyDir(db);
  const keys = new KeyRing(keyDir, witnessScope(db), { readonly });
  const origin = originOf(options.tenant, logName);
  try {
    const head = readonly
      ? await existingLog(store, origin)
      : await store.openLog(origin, options.tenant, EMPTY_ROOT);
    // People are indexed by keyed hash: the key is created by a write path only.
    const tag = readonly ? await readIndexTagger(store, origin) : await ensureIndexTagger(store, head);
    // The trail keeps no reference to the store in its options either (see storeOf).
    const { store: _given, ...kept } = options;
    return new AuditTrail(store, keys, head, kept, options.store === undefined, tag);
  } catch (e) {
    if (options.store === undefined) await store.close();
    throw e;
  }
}

/** The head of a log that must already exist; not_found names the logs that do. */
async function existingLog(store: AuditStore, origin: string): Promise<LogHead> {
  const head = await store.getLog(origin);
  if (head) return head;
  const present = (await store.listLogs()).map((h) => h.origin);
  throw new AuditError(
    'not_found',
    `log ${origin} does not exist${store.location !== undefined ? ` in ${store.location}` : ''} (logs present: ${present.length > 0 ? present.join(', ') : 'none'})`,
  );
}
