import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Receipt } from '../../core/append-plan.js';
import { AuditError } from '../../errors.js';
import type { AuditEvent, RecordedEvent } from '../../event/types.js';
import { uuidv7 } from '../../internal/ids.js';
import { nowMs } from '../../internal/time.js';
import {
  createRedactor,
  type RedactionOptions,
  type RedactionResult,
  type Redactor,
} from '../../redact/index.js';
import { REDACTORS } from '../internals.js';
import { HttpClient, RemoteError } from './http-client.js';
import { checkNatsOptions, connectNats, ensureStream, type NatsStreamOptions } from './nats-stream.js';
import { prepareOutgoing } from './remote-trail.js';

export interface NatsAuditTrailOptions {
  /** The JetStream stream the collectors (`auditrail serve --nats`) consume. */
  nats: NatsStreamOptions & {
    /** How long one publish waits for JetStream's acknowledgement (default 10,000 ms). */
    publishTimeoutMs?: number;
  };
  /** The tenant whose log the events go to: the subject is `<subjectPrefix>.<tenant>`. */
  tenant: string;
  /** Optional: an `auditrail serve` and a key with the `read` scope, for {@link NatsAuditTrail.receipt}. */
  url?: string;
  apiKey?: string;
  /** Extra redaction rules: events are redacted here, before they are published. */
  redaction?: RedactionOptions;
  /** Injected clock (epoch ms) for event times and ids. */
  now?: () => number;
  /** Injected event id source (default UUIDv7). */
  ids?: () => string;
}

/**
 * What `record()` returns: the event is durable in the JetStream stream (not yet in the log).
 * `stream_seq` is its place in the stream; `duplicate` is true when JetStream already held this
 * event_id (within its duplicate window) and kept the first copy.
 */
export interface StreamReceipt {
  event_id: string;
  stream: string;
  stream_seq: number;
  duplicate: boolean;
}

const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * A producer that publishes events to a NATS JetStream stream; collectors (`auditrail serve --nats`)
 * commit them to the tenant's log. Create it with `openAuditTrail({ nats, tenant })`
 * (docs/scale-out.md, "NATS JetStream ingestion").
 *
 * @example
 * const trail = await openAuditTrail({ nats: { servers: 'nats://127.0.0.1:4222', stream: 'AUDIT' }, tenant: 'acme' });
 * const r = await trail.record({ type: 'action.intent', actor: { type: 'agent', id: 'bot' }, action: { type: 'read:order' } });
 * await trail.close();
 */
export class NatsAuditTrail {
  readonly tenant: string;
  readonly stream: string;
  /** The subject this trail publishes to: `<subjectPrefix>.<tenant>`. */
  readonly subject: string;
  readonly readonly = false;
  private readonly redactor: Redactor;
  private readonly now: () => number;
  private readonly ids: () => string;
  private readonly js: JetStreamClient;
  private readonly client: HttpClient | null;
  private readonly timeout: number;
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    options: NatsAuditTrailOptions,
    prefix: string,
  ) {
    this.tenant = options.tenant;
    this.stream = options.nats.stream;
    this.subject = `${prefix}.${options.tenant}`;
    this.redactor = createRedactor(options.redaction);
    REDACTORS.set(this, this.redactor);
    this.now = options.now ?? nowMs;
    const now = this.now;
    this.ids = options.ids ?? (() => uuidv7(now()));
    this.js = jetstream(nc);
    this.timeout = options.nats.publishTimeoutMs ?? 10_000;
    this.client =
      options.url !== undefined && options.apiKey !== undefined
        ? new HttpClient({ url: options.url, apiKey: options.apiKey })
        : null;
  }

  /** @internal use `openAuditTrail({ nats, tenant })`. */
  static async open(options: NatsAuditTrailOptions): Promise<NatsAuditTrail> {
    const prefix = checkNatsOptions(options.nats);
    if (typeof options.tenant !== 'string' || !TENANT_RE.test(options.tenant))
      throw new AuditError(
        'invalid_argument',
        'tenant must be 1-64 characters of letters, digits, ".", "_" or "-"',
      );
    if ((options.url === undefined) !== (options.apiKey === undefined))
      throw new AuditError(
        'invalid_argument',
        'give url and apiKey together (for receipt lookups), or neither',
      );
    const t = options.nats.publishTimeoutMs;
    if (t !== undefined && (!Number.isSafeInteger(t) || t < 1))
      throw new AuditError('invalid_argument', 'nats.publishTimeoutMs must be a positive integer');
    const nc = await connectNats(options.nats, `auditrail-producer-${options.tenant}`);
    try {
      await ensureStream(nc, options.nats.stream, prefix);
    } catch (e) {
      await nc.close();
      throw e;
    }
    return new NatsAuditTrail(nc, options, prefix);
  }

  /** Redacts `value` with this trail's rules, as an event is redacted before it is published. */
  redact<T>(value: T): RedactionResult<T> {
    return this.redactor(value);
  }

  /**
   * Validates, names (event_id, time) and redacts the event, publishes it with JetStream's
   * message id set to its event_id, and resolves once JetStream acknowledged it (stored in the
   * stream). A bad event rejects with a ValidationError and nothing is published. Publishing the
   * same event again (same event_id and time) is safe: JetStream and the log each keep it once.
   */
  async record(event: AuditEvent): Promise<StreamReceipt> {
    if (this.closed) throw new AuditError('closed', 'the audit trail is closed');
    const prepared = prepareOutgoing(event, this.tenant, this.ids, this.now, this.redactor);
    let ack;
    try {
      ack = await this.js.publish(this.subject, JSON.stringify(prepared), {
        msgID: prepared.event_id,
        expect: { streamName: this.stream },
        timeout: this.timeout,
      });
    } catch (e) {
      throw new AuditError(
        'store_failure',
        `JetStream did not acknowledge event ${prepared.event_id} on stream ${this.stream}: ${(e as Error).message}; publish it again (same event_id) to retry`,
        { cause: e },
      );
    }
    return { event_id: prepared.event_id, stream: ack.stream, stream_seq: ack.seq, duplicate: ack.duplicate };
  }

  /**
   * The log's receipt of an event once a collector committed it (`GET /v1/events/by-id/{id}` on
   * the `url` given), or undefined while it is not in the log yet.
   */
  async receipt(eventId: string): Promise<Receipt | undefined> {
    if (this.client === null)
      throw new AuditError(
        'invalid_argument',
        'receipt() needs url and apiKey (a key with the read scope) in the options',
      );
    let e: RecordedEvent;
    try {
      e = await this.client.request<RecordedEvent>('GET', `/v1/events/by-id/${encodeURIComponent(eventId)}`);
    } catch (err) {
      if (err instanceof RemoteError && err.status === 404) return undefined;
      throw err;
    }
    return { seq: e.seq, event_id: eventId, leaf_hash: e.leaf_hash };
  }

  /** Waits for publishes under way and closes the NATS connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.nc.drain();
  }
}
