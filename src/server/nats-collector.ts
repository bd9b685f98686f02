import { AckPolicy, DeliverPolicy, jetstream, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import { AuditError, ValidationError } from '../errors.js';
import type { AuditEvent } from '../event/types.js';
import type { AuditTrail } from '../index.js';
import {
  checkNatsOptions,
  connectNats,
  ensureStream,
  type NatsStreamOptions,
} from '../sdk/remote/nats-stream.js';

export interface NatsCollectorOptions extends NatsStreamOptions {
  /** The durable pull consumer's name, shared by every collector of the stream (default `auditrail-collector`). */
  durable?: string;
  /** Refused messages are published to `<deadLetterSubject>.<tenant>` (default `<subjectPrefix>_dead`). */
  deadLetterSubject?: string;
  /** Messages per fetch and commit, and the consumer's unacknowledged bound (default 256). */
  batch?: number;
  /** How long a delivered, unacknowledged message waits before JetStream redelivers it (default 30,000 ms). */
  ackWaitMs?: number;
}

export interface NatsCollectorHooks {
  /** The open trail of a tenant's log (the server's TenantTrails). */
  trail: (tenant: string) => Promise<AuditTrail>;
  /** A refused message (dead-lettered), or a commit that failed and is retried. */
  log: (level: 'warn' | 'error', message: string) => void;
}

/** What a collector did since it started. */
export interface NatsCollectorStatus {
  committed: number;
  duplicates: number;
  dead: number;
  retries: number;
}

const DURABLE_RE = /^[A-Za-z0-9_-]{1,64}$/;
const TENANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_BACKOFF_MS = 5_000;

interface Entry {
  msg: JsMsg;
  event: AuditEvent & { event_id: string };
}

/** Errors that are the message's fault: it is dead-lettered, never retried. */
function refusesForGood(e: unknown): boolean {
  return (
    e instanceof ValidationError ||
    (e instanceof AuditError &&
      (e.code === 'conflict' || e.code === 'invalid_argument' || e.code === 'invalid_event'))
  );
}

/**
 * Consumes a JetStream stream with a durable pull consumer and commits its events to each tenant's
 * log (docs/scale-out.md, "NATS JetStream ingestion"): a batch is acknowledged only after its
 * commit is durable; a redelivered event_id already in the log is acknowledged without a second
 * entry; a message that can never be committed is published to the dead-letter subject and
 * terminated, so it never blocks the stream. While the log cannot be written the batch is retried
 * (the messages stay unacknowledged and in order).
 *
 * @example
 * const c = await NatsCollector.start({ servers: 'nats://127.0.0.1:4222', stream: 'AUDIT' }, { trail, log });
 * await c.stop();
 */
export class NatsCollector {
  private stopping = false;
  private readonly done: Promise<void>;
  private current: { stop(): void } | null = null;
  private wake: (() => void) | null = null;
  readonly stats: NatsCollectorStatus = { committed: 0, duplicates: 0, dead: 0, retries: 0 };

  private constructor(
    private readonly nc: NatsConnection,
    private readonly consumer: Consumer,
    private readonly prefix: string,
    private readonly dead: string,
    private readonly batch: number,
    private readonly hooks: NatsCollectorHooks,
    startDelayMs: number,
  ) {
    this.done = this.loop(startDelayMs);
  }

  /** Checks the options (a bad one is named in the error) before anything connects or listens. */
  static check(options: NatsCollectorOptions): {
    prefix: string;
    durable: string;
    dead: string;
    batch: number;
    ackWaitMs: number;
  } {
    const prefix = checkNatsOptions(options);
    const durable = options.durable ?? 'auditrail-collector';
    if (!DURABLE_RE.test(durable))
      throw new AuditError(
        'invalid_argument',
        'the NATS durable consumer name must be 1-64 letters, digits, "_" or "-"',
      );
    const dead = options.deadLetterSubject ?? `${prefix}_dead`;
    if (
      !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){0,7}$/.test(dead) ||
      dead === prefix ||
      dead.startsWith(`${prefix}.`)
    )
      throw new AuditError(
        'invalid_argument',
        `the dead-letter subject must be dot-separated tokens outside ${prefix}.> (else the collector would consume it again)`,
      );
    const batch = options.batch ?? 256;
    if (!Number.isSafeInteger(batch) || batch < 1 || batch > 1000)
      throw new AuditError('invalid_argument', 'the NATS batch must be an integer from 1 to 1000');
    const ackWaitMs = options.ackWaitMs ?? 30_000;
    if (!Number.isSafeInteger(ackWaitMs) || ackWaitMs < 1000)
      throw new AuditError('invalid_argument', 'the NATS ack wait must be at least 1000 ms');
    return { prefix, durable, dead, batch, ackWaitMs };
  }

  /** Connects, creates the stream and the durable consumer when missing, and starts consuming. */
  static async start(options: NatsCollectorOptions, hooks: NatsCollectorHooks): Promise<NatsCollector> {
    const { prefix, durable, dead, batch, ackWaitMs } = NatsCollector.check(options);
    const nc = await connectNats(options, 'auditrail-collector');
    try {
      const jsm = await ensureStream(nc, options.stream, prefix);
      // max_ack_pending = one batch: after a crash the unacknowledged batch is redelivered before
      // anything newer, so each tenant's events land in the order of the stream.
      const tuned = { ack_wait: nanos(ackWaitMs), max_ack_pending: batch };
      const exists = await jsm.consumers.info(options.stream, durable).then(
        () => true,
        () => false,
      );
      if (exists) await jsm.consumers.update(options.stream, durable, tuned);
      else
        await jsm.consumers.add(options.stream, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          filter_subject: `${prefix}.>`,
          ...tuned,
        });
      const consumer = await jetstream(nc).consumers.get(options.stream, durable);
      // Messages delivered to a collector that died are redelivered once their ack wait is over,
      // before anything newer: the first fetch waits for that, so the log keeps the stream's order.
      const pending = (await jsm.consumers.info(options.stream, durable)).num_ack_pending;
      if (pending > 0)
        hooks.log('warn', `${pending} messages await redelivery: consuming starts in ${ackWaitMs} ms`);
      return new NatsCollector(nc, consumer, prefix, dead, batch, hooks, pending > 0 ? ackWaitMs + 250 : 0);
    } catch (e) {
      await nc.close();
      throw e instanceof AuditError
        ? e
        : new AuditError(
            'store_failure',
            `could not set up the JetStream consumer: ${(e as Error).message}`,
            { cause: e },
          );
    }
  }

  /** Stops fetching; a commit under way finishes and is acknowledged; closes the connection. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.current?.stop();
    this.wake?.();
    await this.done;
    await this.nc.drain().catch(() => undefined);
  }

  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
    this.wake = null;
  }

  private async loop(startDelayMs: number): Promise<void> {
    if (startDelayMs > 0) await this.pause(startDelayMs);
    while (!this.stopping) {
      const msgs: JsMsg[] = [];
      try {
        const it = await this.consumer.fetch({ max_messages: this.batch, expires: 1000 });
        this.current = it;
        for await (const m of it) msgs.push(m);
      } catch (e) {
        if (this.stopping) break;
        this.hooks.log('error', `NATS fetch failed (${(e as Error).message}); trying again`);
        await this.pause(1000);
        continue;
      } finally {
        this.current = null;
      }
      if (msgs.length > 0) await this.commit(msgs);
    }
  }

  /** Commits one fetched batch, tenant by tenant in stream order, then acknowledges it. */
  private async commit(msgs: JsMsg[]): Promise<void> {
    const byTenant = new Map<string, Entry[]>();
    for (const msg of msgs) {
      const tenant = msg.subject.slice(this.prefix.length + 1);
      const refused = this.check(msg, tenant);
      if (typeof refused === 'string') {
        this.deadLetter(msg, tenant, refused);
        continue;
      }
      const list = byTenant.get(tenant) ?? [];
      list.push({ msg, event: refused });
      byTenant.set(tenant, list);
    }
    for (const [tenant, entries] of byTenant) {
      const ok = await this.commitTenant(tenant, entries);
      if (ok === null) return; // stopping: left unacknowledged, JetStream redelivers them
      await Promise.all(
        ok.map((m) =>
          m.ackAck().catch((e: unknown) => {
            // The commit stands; a redelivery is recognised by its event_id.
            this.hooks.log('warn', `ack of stream seq ${m.seq} failed (${(e as Error).message})`);
          }),
        ),
      );
    }
  }

  /** The event of a message, or why it can never be committed. */
  private check(msg: JsMsg, tenant: string): (AuditEvent & { event_id: string }) | string {
    if (!TENANT_RE.test(tenant)) return `subject ${msg.subject} does not name a tenant`;
    let event: unknown;
    try {
      event = JSON.parse(msg.string());
    } catch {
      return 'the message is not JSON';
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event))
      return 'the message is not a JSON object';
    const e = event as AuditEvent;
    if (typeof e.event_id !== 'string')
      return 'the event has no event_id (a redelivery could not be recognised)';
    const msgId = msg.headers?.get('Nats-Msg-Id');
    if (msgId && msgId !== e.event_id) return `the message id ${msgId.slice(0, 128)} is not the event_id`;
    if (e.tenant !== undefined && e.tenant !== tenant)
      return `the event names tenant ${String(e.tenant).slice(0, 64)} but was published for ${tenant}`;
    return e as AuditEvent & { event_id: string };
  }

  /**
   * Commits a tenant's entries in order; returns the messages to acknowledge, or null when the
   * collector stops before the log could be written.
   */
  private async commitTenant(tenant: string, entries: Entry[]): Promise<JsMsg[] | null> {
    let delay = 100;
    for (;;) {
      try {
        const trail = await this.hooks.trail(tenant);
        try {
          this.count(await trail.recordBatch(entries.map((x) => x.event)));
          return entries.map((x) => x.msg);
        } catch (e) {
          if (!refusesForGood(e)) throw e;
        }
        // One bad event refuses a whole batch: commit them one by one, dead-lettering the bad.
        const ok: JsMsg[] = [];
        for (const x of entries) {
          try {
            this.count(await trail.recordBatch([x.event]));
            ok.push(x.msg);
          } catch (e) {
            if (!refusesForGood(e)) throw e;
            this.deadLetter(x.msg, tenant, (e as Error).message);
          }
        }
        return ok;
      } catch (e) {
        if (this.stopping) return null;
        this.stats.retries++;
        this.hooks.log(
          'error',
          `commit of ${entries.length} events of tenant ${tenant} failed (${(e as Error).message}); retrying in ${delay} ms`,
        );
        // Keep the batch ours while the log is unavailable: no redelivery to another collector.
        for (const x of entries) x.msg.working();
        await this.pause(delay);
        delay = Math.min(delay * 2, MAX_BACKOFF_MS);
      }
    }
  }

  private count(receipts: { duplicate?: boolean }[]): void {
    for (const r of receipts) {
      if (r.duplicate) this.stats.duplicates++;
      else this.stats.committed++;
    }
  }

  private deadLetter(msg: JsMsg, tenant: string, reason: string): void {
    this.stats.dead++;
    const subject = `${this.dead}.${TENANT_RE.test(tenant) ? tenant : '_invalid'}`;
    const h = headers();
    h.set('Auditrail-Reason', reason.slice(0, 512).replace(/[\r\n]+/g, ' '));
    h.set('Auditrail-Stream-Seq', String(msg.seq));
    h.set('Auditrail-Subject', msg.subject.slice(0, 256));
    try {
      this.nc.publish(subject, msg.data, { headers: h });
    } catch (e) {
      this.hooks.log('error', `dead-letter publish to ${subject} failed (${(e as Error).message})`);
    }
    this.hooks.log('warn', `stream seq ${msg.seq} (${msg.subject}) refused: ${reason}; sent to ${subject}`);
    msg.term(reason.slice(0, 256));
  }
}
