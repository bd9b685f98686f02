import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { disclosureDigest, parseDisclosure } from '../core/disclosure.js';
import { AuditError, ValidationError } from '../errors.js';
import { MAX_EVENT_BYTES } from '../event/schema.js';
import { createRedactor } from '../redact/index.js';
import { contentKey, prepareEvent } from './prepare.js';

const options = { tenant: 'acme', redactor: createRedactor() };
const event = {
  type: 'action.intent',
  actor: { type: 'agent', id: 'bot' },
  metadata: { a: { b: 1 }, constructor: { c: 2 } },
} as const;

describe('prepareEvent: what record() commits to', () => {
  it('refuses sensitive pointers a verifier would refuse (reserved tokens, bad escapes)', () => {
    for (const p of [
      '/metadata/__proto__',
      '/metadata/constructor',
      '/prototype',
      '/metadata/a~2',
      'metadata',
      '',
    ]) {
      assert.throws(
        () => prepareEvent(event, { ...options, sensitivePointers: [p] }),
        (e) =>
          e instanceof AuditError && e.code === 'invalid_argument' && e.message.includes(JSON.stringify(p)),
        p,
      );
    }
    const ok = prepareEvent(event, { ...options, sensitivePointers: ['/metadata/a'] });
    assert.deepEqual(
      ok.disclosures.map((d) => parseDisclosure(d.bytes).pointer),
      ['', '/metadata/a'],
    );
  });

  it('rejects a lone surrogate before anything is committed, naming the field', () => {
    assert.throws(
      () => prepareEvent({ ...event, context: { reasoning: 'why\uD83D' } }, options),
      (e) => e instanceof ValidationError && e.issues[0]?.field === '/context/reasoning',
    );
  });
});

/** Salts 0x01…, 0x02…: each call to `random` gives the next byte value, so output is stable. */
function countingRandom(): (n: number) => Buffer {
  let k = 0;
  return (n) => Buffer.alloc(n, ++k);
}
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const fixed = { ...options, now: () => NOW, random: countingRandom() };

describe('prepareEvent: defaults the log fills in', () => {
  it('sets event id, tenant, time, level and schema version when absent', () => {
    const p = prepareEvent({ type: 'action.intent', actor: { type: 'agent', id: 'bot' } }, fixed);
    assert.match(p.eid, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // A UUIDv7 carries milliseconds in its first 48 bits: the clock's, or later ones when this
    // process already made ids (they stay monotonic).
    assert.ok(parseInt(p.eid.replace(/-/g, '').slice(0, 12), 16) >= NOW);
    assert.equal(p.event.event_id, p.eid);
    assert.equal(p.event.tenant, 'acme');
    assert.equal(p.event.time, '2026-01-02T03:04:05.678Z');
    assert.equal(p.event.level, 'agent');
    assert.equal(p.event.schema_version, 1);
    assert.equal(p.timeDefaulted, true);
    assert.equal(p.type, 'action.intent');
  });

  it('keeps what the producer set', () => {
    const p = prepareEvent(
      {
        event_id: 'evt-1',
        type: 'action.intent',
        tenant: 'acme',
        time: '2025-12-31T23:59:59.000Z',
        level: 'pipeline',
        actor: { type: 'agent', id: 'bot' },
      },
      fixed,
    );
    assert.deepEqual(
      [p.eid, p.event.time, p.event.level, p.timeDefaulted],
      ['evt-1', '2025-12-31T23:59:59.000Z', 'pipeline', false],
    );
  });

  it('derives the level from the type prefix', () => {
    const levels: [string, string][] = [
      ['policy.decision', 'decision'],
      ['approval.granted', 'decision'],
      ['action.failed', 'agent'],
      ['delegation.started', 'agent'],
      ['context.accessed', 'agent'],
      ['agent.lifecycle', 'agent'],
      ['anomaly.detected', 'pipeline'],
      ['data.erased', 'pipeline'],
      ['x.custom.thing', 'pipeline'],
    ];
    for (const [type, level] of levels) {
      const p = prepareEvent({ type, actor: { type: 'agent', id: 'bot' } }, fixed);
      assert.equal(p.event.level, level, type);
    }
  });

  it('refuses an event of another tenant, naming /tenant', () => {
    assert.throws(
      () => prepareEvent({ ...event, tenant: 'globex' }, fixed),
      (e) =>
        e instanceof ValidationError &&
        e.issues[0]?.field === '/tenant' &&
        /"acme"/.test(e.issues[0].message),
    );
  });

  it('refuses an invalid event before anything else (no type)', () => {
    assert.throws(() => prepareEvent({ actor: { type: 'agent', id: 'bot' } }, fixed), ValidationError);
  });
});

describe('prepareEvent: redaction and disclosures', () => {
  it('redacts before splitting and lists the redacted pointers; a producer cannot set `redacted`', () => {
    const secret = ['sk', 'live', '51Hq3xAcmeDem0K3yN0tR3al9vZ'].join('_');
    const p = prepareEvent(
      {
        type: 'action.intent',
        actor: { type: 'agent', id: 'bot' },
        action: { type: 'stripe:charge', params: { api_key: secret, amount: 5 } },
        redacted: ['/forged'],
      },
      fixed,
    );
    assert.deepEqual(p.event.redacted, ['/action/params/api_key']);
    for (const d of p.disclosures) assert.ok(!d.bytes.toString('utf8').includes(secret));
    const params = p.disclosures.find((d) => d.pointer === '/action/params');
    assert.deepEqual(parseDisclosure(params!.bytes).value, { api_key: '***REDACTED***', amount: 5 });
    const clean = prepareEvent({ ...event, redacted: ['/forged'] }, fixed);
    assert.equal(clean.event.redacted, undefined);
  });

  it('makes one disclosure per sensitive field present plus the body, digests sorted', () => {
    const p = prepareEvent(
      {
        type: 'action.failed',
        actor: { type: 'agent', id: 'bot', on_behalf_of: 'user:42' },
        action: { type: 'write:refund', params: { amount: 1 } },
        outcome: { status: 'failure', error_message: 'boom', result: { partial: true } },
        context: { reasoning: 'why', user_message: 'hi', data_subject_ids: ['p-1'], purpose: 'support' },
      },
      fixed,
    );
    assert.deepEqual(p.disclosures.map((d) => d.pointer).sort(), [
      '',
      '/action/params',
      '/actor/on_behalf_of',
      '/context/data_subject_ids',
      '/context/reasoning',
      '/context/user_message',
      '/outcome/error_message',
      '/outcome/result',
    ]);
    assert.deepEqual(p.digests, p.disclosures.map((d) => disclosureDigest(d.bytes)).sort());
    // Each disclosure has its own salt.
    const salts = new Set(p.disclosures.map((d) => parseDisclosure(d.bytes).salt));
    assert.equal(salts.size, p.disclosures.length);
    const body = parseDisclosure(p.disclosures.find((d) => d.pointer === '')!.bytes).value as Record<
      string,
      Record<string, unknown>
    >;
    assert.deepEqual(body['context'], { purpose: 'support' });
    assert.equal(body['outcome']?.['status'], 'failure');
  });

  it('splits the id and name of a user actor, not those of an agent', () => {
    const user = prepareEvent({ type: 'x.a', actor: { type: 'user', id: 'user:7', name: 'Ann' } }, fixed);
    assert.deepEqual(user.disclosures.map((d) => d.pointer).sort(), ['', '/actor/id', '/actor/name']);
    const agent = prepareEvent({ type: 'x.a', actor: { type: 'agent', id: 'bot', name: 'Bot' } }, fixed);
    assert.deepEqual(
      agent.disclosures.map((d) => d.pointer),
      [''],
    );
  });

  it('uses the injected randomness for salts (same input, same bytes)', () => {
    const a = prepareEvent(
      { ...event, event_id: 'e', time: '2026-01-01T00:00:00Z' },
      {
        ...options,
        random: countingRandom(),
      },
    );
    const b = prepareEvent(
      { ...event, event_id: 'e', time: '2026-01-01T00:00:00Z' },
      {
        ...options,
        random: countingRandom(),
      },
    );
    assert.deepEqual(a.digests, b.digests);
    assert.equal(parseDisclosure(a.disclosures[0]!.bytes).salt, Buffer.alloc(16, 1).toString('base64url'));
  });

  it('refuses an event above MAX_EVENT_BYTES once canonical, naming the limit', () => {
    const big = { ...event, metadata: { blob: 'x'.repeat(MAX_EVENT_BYTES) } };
    assert.throws(
      () => prepareEvent(big, fixed),
      (e) =>
        e instanceof ValidationError &&
        e.issues.some((i) => i.rule === 'maxBytes' || /262144|256/.test(i.message)),
    );
  });

  it('derives the index row from the redacted event', () => {
    const p = prepareEvent(
      {
        type: 'policy.decision',
        session_id: 's-1',
        run_id: 'r-1',
        trace_id: '0af7651916cd43dd8448eb211c80319c',
        risk_level: 'high',
        actor: { type: 'agent', id: 'bot' },
        action: { type: 'write:refund', target: 'order/1' },
        policy: { decision: 'deny', reason: 'no' },
      },
      fixed,
    );
    assert.equal(p.index.tenant, 'acme');
    assert.equal(p.index.session_id, 's-1');
    assert.equal(p.index.run_id, 'r-1');
    assert.equal(p.index.action_type, 'write:refund');
    assert.equal(p.index.target, 'order/1');
    assert.equal(p.index.decision, 'deny');
    assert.equal(p.index.risk, 'high');
    assert.equal(p.index.status, null);
    assert.equal(p.index.time, '2026-01-02T03:04:05.678Z');
  });
});

describe('contentKey: detecting a reused event id', () => {
  it('ignores `redacted`, and `time` when asked', () => {
    const a = { ...event, time: '2026-01-01T00:00:00Z', redacted: ['/x'] };
    const b = { ...event, time: '2026-01-02T00:00:00Z' };
    assert.notEqual(contentKey(a), contentKey(b));
    assert.equal(contentKey(a, true), contentKey(b, true));
    assert.equal(contentKey({ ...event, redacted: ['/y'] }), contentKey(event));
  });

  it('is canonical: member order does not matter', () => {
    const a = { type: 'x.a', actor: { id: 'bot', type: 'agent' } } as const;
    const b = { actor: { type: 'agent', id: 'bot' }, type: 'x.a' } as const;
    assert.equal(contentKey(a), contentKey(b));
  });

  it('throws AuditError invalid_argument for a value that is not JSON', () => {
    assert.throws(
      () => contentKey({ ...event, metadata: { n: 10n } }),
      (e) => e instanceof AuditError && e.code === 'invalid_argument',
    );
  });
});
