import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordedEvent } from '../event/types.js';
import { parseExportConfig } from './config.js';
import { compileFilter } from './pipeline.js';

const one = (sink: string, extra = ''): ReturnType<typeof parseExportConfig>[number] =>
  parseExportConfig(`exports:\n  - name: s\n    sink: ${sink}\n${extra}`)[0]!;

describe('export config: the stdout, syslog and otlp sinks', () => {
  it('takes syslog defaults (TCP, JSON messages) and checks each field', () => {
    assert.deepEqual(one('{ type: syslog, host: siem, port: 6514 }').sink, {
      type: 'syslog',
      host: 'siem',
      port: 6514,
      transport: 'tcp',
      message: 'json',
    });
    const refused: [string, RegExp][] = [
      ['{ type: syslog, host: siem }', /exports\[0\]\.sink\.port is required/],
      ['{ type: syslog, host: siem, port: 70000 }', /sink\.port must be a port number/],
      [
        '{ type: syslog, host: siem, port: 514, transport: sctp }',
        /sink\.transport must be one of tcp, tls, udp/,
      ],
      ['{ type: syslog, host: siem, port: 514, facility: 24 }', /sink\.facility must be a syslog facility/],
      ['{ type: syslog, host: siem, port: 514, app_name: "a b" }', /sink\.app_name must be 1-48 printable/],
      ['{ type: syslog, host: siem, port: 514, sd_id: "a]b" }', /sink\.sd_id must be 1-32 printable/],
      ['{ type: stdout, path: x }', /sink\.path is not a known field/],
      ['{ type: otlp, url: "ftp://x" }', /sink\.url must be an http\(s\) URL/],
      ['{ type: kafka }', /sink\.type must be one of file, webhook, splunk, datadog, stdout, syslog, otlp/],
    ];
    for (const [sink, want] of refused) assert.throws(() => one(sink), want);
  });

  it('refuses CEF with a format other than native', () => {
    assert.throws(
      () => one('{ type: syslog, host: siem, port: 514, message: cef }', '    format: ocsf\n'),
      /exports\[0\]\.format must be native \(or left out\) with message: cef/,
    );
    assert.equal(one('{ type: syslog, host: siem, port: 514, message: cef }').format, 'native');
  });

  it('takes otlp headers from the environment', () => {
    const [c] = parseExportConfig(
      'exports:\n  - name: o\n    sink: { type: otlp, headers: { authorization: "Bearer ${T}" } }\n',
      { T: 'tok' },
    );
    assert.deepEqual(c!.sink, { type: 'otlp', headers: { authorization: 'Bearer tok' } });
  });
});

function ev(over: Partial<RecordedEvent>): RecordedEvent {
  return {
    seq: 1,
    ts: '2026-12-05T10:00:00Z',
    leaf_hash: 'ab'.repeat(32),
    log: 'l',
    event_id: 'e',
    type: 'policy.decision',
    actor: { type: 'agent', id: 'bot' },
    ...over,
  };
}

describe('CEL filter', () => {
  it('checks the expression when the config loads, naming the field', () => {
    assert.throws(
      () => one('{ type: stdout }', '    filter: { cel: "event.type ==" }\n'),
      /filter\.cel is not a valid CEL/,
    );
    assert.throws(
      () => one('{ type: stdout }', '    filter: { cel: "actor.id == 1" }\n'),
      /filter\.cel is not a valid CEL.*actor/,
    );
    assert.throws(() => one('{ type: stdout }', '    filter: { cel: "\'x\'" }\n'), /must evaluate to bool/);
  });

  it('passes what the expression accepts, with the other filters', () => {
    const c = one(
      '{ type: stdout }',
      `    filter: { risk: high, cel: "event.policy.decision == 'deny' && event.actor.id.startsWith('bot')" }\n`,
    );
    const accept = compileFilter(c.filter, 'acme');
    assert.equal(accept(ev({ risk_level: 'high', policy: { decision: 'deny' } })), true);
    assert.equal(accept(ev({ risk_level: 'high', policy: { decision: 'allow' } })), false);
    assert.equal(accept(ev({ risk_level: 'low', policy: { decision: 'deny' } })), false);
  });

  it('lets an event through when the expression fails on it, and says why', () => {
    const c = one('{ type: stdout }', `    filter: { cel: "event.policy.decision == 'deny'" }\n`);
    const why: string[] = [];
    const accept = compileFilter(c.filter, 'acme', (_e, w) => why.push(w));
    assert.equal(accept(ev({ type: 'action.succeeded' })), true);
    assert.equal(why.length, 1);
    assert.match(why[0]!, /policy/);
  });

  it('bounds the cost of an expression over a large event: over budget, it fails (and passes)', () => {
    const c = one(
      '{ type: stdout }',
      `    filter: { cel: "event.metadata.items.all(x, x.all(y, y > 0))" }\n`,
    );
    const why: string[] = [];
    const accept = compileFilter(c.filter, 'acme', (_e, w) => why.push(w));
    const items = Array.from({ length: 300 }, () => Array.from({ length: 300 }, () => 1));
    const t0 = process.cpuUsage();
    assert.equal(accept(ev({ metadata: { items } })), true);
    const cpuMs = (process.cpuUsage(t0).user + process.cpuUsage(t0).system) / 1000;
    assert.deepEqual(why, ['condition exceeded its budget']);
    assert.ok(cpuMs < 500, `${cpuMs} ms of CPU`);
  });
});
