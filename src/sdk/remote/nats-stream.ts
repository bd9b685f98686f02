import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, StorageType, type JetStreamManager } from '@nats-io/jetstream';
import { AuditError } from '../../errors.js';

/** Where events travel through NATS JetStream (docs/scale-out.md, "NATS JetStream ingestion"). */
export interface NatsStreamOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222`; credentials belong in the NATS config, not here. */
  servers: string | string[];
  /** The JetStream stream's name (letters, digits, `_`, `-`). */
  stream: string;
  /** Subject prefix: a tenant's events go to `<subjectPrefix>.<tenant>` (default `auditrail.events`). */
  subjectPrefix?: string;
}

export const DEFAULT_SUBJECT_PREFIX = 'auditrail.events';

const STREAM_RE = /^[A-Za-z0-9_-]{1,64}$/;
const PREFIX_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,7}$/;

/** Checks the names (a bad one is named in the error) and returns the prefix used. */
export function checkNatsOptions(o: NatsStreamOptions): string {
  const servers = Array.isArray(o.servers) ? o.servers : [o.servers];
  if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || !/^(nats|tls):\/\/\S+$/.test(s)))
    throw new AuditError('invalid_argument', 'nats.servers must be nats:// or tls:// URLs');
  if (typeof o.stream !== 'string' || !STREAM_RE.test(o.stream))
    throw new AuditError('invalid_argument', 'nats.stream must be 1-64 letters, digits, "_" or "-"');
  const prefix = o.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX;
  if (!PREFIX_RE.test(prefix))
    throw new AuditError(
      'invalid_argument',
      'nats.subjectPrefix must be dot-separated tokens of letters, digits, "_" or "-" (no wildcards)',
    );
  return prefix;
}

/** Connects to NATS; the URL is never echoed in an error (it may carry credentials). */
export async function connectNats(o: NatsStreamOptions, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: o.servers, name, maxReconnectAttempts: -1 });
  } catch (e) {
    throw new AuditError('store_failure', `could not connect to the NATS server (${(e as Error).message})`, {
      cause: e,
    });
  }
}

/**
 * Creates the stream when it does not exist (file storage, subjects `<prefix>.>`, JetStream's
 * 2-minute duplicate window on the message id); an existing stream must already cover the prefix.
 */
export async function ensureStream(
  nc: NatsConnection,
  stream: string,
  prefix: string,
): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(nc);
  const subject = `${prefix}.>`;
  let subjects: string[] | undefined;
  try {
    subjects = (await jsm.streams.info(stream)).config.subjects;
  } catch {
    try {
      await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File });
      return jsm;
    } catch (e) {
      // Another process may have created it meanwhile.
      subjects = (
        await jsm.streams.info(stream).catch(() => {
          throw new AuditError('store_failure', `could not create the JetStream stream ${stream}`, {
            cause: e,
          });
        })
      ).config.subjects;
    }
  }
  if (!(subjects ?? []).includes(subject))
    throw new AuditError(
      'invalid_argument',
      `the JetStream stream ${stream} does not take ${subject} (its subjects: ${(subjects ?? []).join(', ') || 'none'})`,
    );
  return jsm;
}
