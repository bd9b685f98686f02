import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import type { RecordedEvent } from '../../event/types.js';
import type { ExportRecord } from '../sink.js';
import { cefMessage, syslogMessage, syslogSink } from './syslog-sink.js';

function recorded(over: Partial<RecordedEvent> = {}): RecordedEvent {
  return {
    seq: 17,
    ts: '2026-12-05T10:00:00.500Z',
    time: '2026-12-05T10:00:00.123Z',
    leaf_hash: 'ab'.repeat(32),
    log: 'auditrail.local/t/acme/default',
    event_id: '01JX0000000000000000000000',
    type: 'policy.decision',
    actor: { type: 'agent', id: 'bot-1', name: 'Billing bot' },
    ...over,
  };
}

const HDR = {
  facility: 10,
  hostname: 'worker-3',
  appName: 'auditrail',
  procId: '4711',
  sdId: 'auditrail@32473',
};

describe('RFC 5424 message', () => {
  it('has PRI from facility and risk, the event time, MSGID the type, and seq/leaf_hash in SD', () => {
    const m = syslogMessage(recorded({ risk_level: 'high' }), '{"x":1}', HDR);
    assert.equal(
      m,
      `<84>1 2026-12-05T10:00:00.123Z worker-3 auditrail 4711 policy.decision [auditrail@32473 seq="17" ` +
        `event_id="01JX0000000000000000000000" type="policy.decision" leaf_hash="${'ab'.repeat(32)}" ` +
        `log="auditrail.local/t/acme/default" risk="high"] {"x":1}`,
    );
    assert.match(syslogMessage(recorded({ risk_level: 'critical' }), '', HDR), /^<83>1 /);
    assert.match(syslogMessage(recorded({ risk_level: 'low' }), '', HDR), /^<87>1 /);
    assert.match(syslogMessage(recorded(), '', HDR), /^<86>1 /);
  });

  it('escapes ", \\ and ] in SD values and keeps header fields printable ASCII', () => {
    const m = syslogMessage(recorded({ tenant: 'a"b\\c]d', type: 'x y\u00e9' as never }), '-', HDR);
    assert.ok(m.includes(' tenant="a\\"b\\\\c\\]d"]'), m);
    assert.ok(m.includes(' 4711 x_y_ ['), m);
  });
});

describe('CEF message', () => {
  it('escapes | and \\ in the header, = \\ and line breaks in the extension; severity from risk', () => {
    const line = cefMessage(
      recorded({
        risk_level: 'critical',
        action: { type: 'db|query', target: 'prod' },
        policy: { decision: 'deny', matched_rule: 'no=writes', reason: 'a\\b\nc' },
      }),
      '1.0',
      'h',
    );
    assert.ok(
      line.startsWith('CEF:0|auditrail|auditrail|1.0|policy.decision|policy.decision db\\|query on prod'),
      line,
    );
    assert.match(line, /\|10\|rt=1796464800123 act=deny /);
    assert.ok(line.includes(' reason=a\\\\b\\nc '), line);
    assert.ok(line.includes(' cs3Label=ruleId cs3=no\\=writes '), line);
    assert.ok(line.includes(' cn1Label=seq cn1=17 '), line);
    // No label without its value: no session, so no cs1Label.
    assert.ok(!line.includes('cs1Label'), line);
  });
});

function rec(seq: number): ExportRecord {
  const event = recorded({ seq });
  return { event, record: { seq }, json: JSON.stringify({ seq }) };
}

describe('syslog sink over UDP', () => {
  it('refuses a message too large for one datagram for good (a dead letter), never cutting it', async () => {
    const sink = syslogSink(
      { type: 'syslog', host: '127.0.0.1', port: 9, transport: 'udp', message: 'json' },
      { hostname: 'h', productVersion: '1' },
    );
    const big = { ...rec(0), json: JSON.stringify({ pad: 'x'.repeat(70_000) }) };
    const r = await sink.send([big]);
    assert.equal(r.kind, 'permanent');
    assert.match(r.kind === 'permanent' ? r.detail : '', /over the 65000-byte UDP limit/);
    await sink.close();
  });
});

describe('syslog sink over TCP', () => {
  it('frames with octet counting, reports a dead receiver as a retry without throwing', async () => {
    const got: string[] = [];
    const sockets: Socket[] = [];
    const server = createServer((s) => {
      sockets.push(s);
      s.setEncoding('utf8').on('data', (d: string) => got.push(d));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const sink = syslogSink(
      { type: 'syslog', host: '127.0.0.1', port, transport: 'tcp', message: 'json', timeout_ms: 2000 },
      { hostname: 'h', productVersion: '1' },
    );
    assert.equal((await sink.send([rec(0), rec(1)])).kind, 'ok');
    await new Promise((r) => setTimeout(r, 100));
    const text = got.join('');
    // Each frame: LEN SP MSG, LEN the byte length of MSG.
    let i = 0;
    const frames: string[] = [];
    while (i < text.length) {
      const sp = text.indexOf(' ', i);
      const len = Number(text.slice(i, sp));
      frames.push(
        Buffer.from(text.slice(sp + 1))
          .subarray(0, len)
          .toString(),
      );
      i = sp + 1 + len;
    }
    assert.equal(frames.length, 2);
    assert.match(frames[1]!, / \{"seq":1\}$/);
    // The receiver goes away: the next send is a retry (never a throw), then works once it is back.
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    let r = await sink.send([rec(2)]);
    if (r.kind === 'ok') r = await sink.send([rec(2)]); // the close may be seen on the next write
    assert.equal(r.kind, 'retry');
    assert.match(r.kind === 'retry' ? r.detail : '', /^tcp:\/\/127\.0\.0\.1:\d+: /);
    await sink.close();
  });
});
