// Syslog and CEF export against a real rsyslogd (Debian's rsyslog + rsyslog-openssl), started
// here with its own config on free 127.0.0.1 ports and writing what it parsed to files this test
// reads: RFC 5424 over TCP with octet-counting framing, over TLS (a self-signed certificate made
// with the openssl CLI) and over UDP; CEF inside syslog. Skips with the reason when rsyslogd or
// openssl is absent, and fails instead under CI=true.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openAuditTrail, type AuditEvent, type AuditTrail } from '../../src/index.js';
import { openPipeline, parseExportConfig, type ExportConfig } from '../../src/export/index.js';
import { tempDir } from './helpers.js';

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));
const OSSL = [
  '/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so',
  '/usr/lib/aarch64-linux-gnu/rsyslog/lmnsd_ossl.so',
];
const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
const missing = [
  ...(RSYSLOGD ? [] : ['rsyslogd (apt-get install -y rsyslog)']),
  ...(OSSL.some((p) => existsSync(p)) ? [] : ['rsyslog TLS driver (apt-get install -y rsyslog-openssl)']),
  ...(hasOpenssl ? [] : ['the openssl CLI']),
];
const skip = missing.length > 0 ? `needs ${missing.join(', ')}` : false;
if (skip && process.env.CI === 'true') throw new Error(`syslog tests under CI: ${skip}`);
if (skip) console.log(`# skipping the syslog tests: ${skip}`);

const CONTEXT = { hostname: 'test-host', productVersion: '0.0.0-test' };
const INPUTS = ['tcp', 'cef', 'tls', 'udp'] as const;
type Input = (typeof INPUTS)[number];

let dir = '';
let rsyslog: ChildProcess | null = null;
const ports = {} as Record<Input, number>;

function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, probe: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  if (skip) return;
  dir = tempDir('auditrail-rsyslog-');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(made.status, 0, made.stderr);
  ports.udp = await freeUdpPort();
  // Each input writes what rsyslog parsed out of the RFC 5424 message to its own file.
  const tcpInput = (name: Input, extra = ''): string =>
    `input(type="imtcp" port="0" listenPortFileName="${join(dir, `${name}.port`)}" ruleset="${name}"${extra})`;
  const conf = [
    `global(workDirectory="${dir}" maxMessageSize="256k")`,
    'module(load="imtcp" maxSessions="50")',
    'module(load="imudp")',
    'template(name="t" type="string" string="%pri%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\\n")',
    tcpInput('tcp'),
    tcpInput('cef'),
    tcpInput(
      'tls',
      ` streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon"` +
        ` streamDriver.certFile="${join(dir, 'cert.pem')}" streamDriver.keyFile="${join(dir, 'key.pem')}"` +
        ` streamDriver.caFile="${join(dir, 'cert.pem')}"`,
    ),
    `input(type="imudp" address="127.0.0.1" port="${ports.udp}" ruleset="udp")`,
    ...INPUTS.map(
      (n) => `ruleset(name="${n}") { action(type="omfile" file="${join(dir, `${n}.log`)}" template="t") }`,
    ),
  ].join('\n');
  writeFileSync(join(dir, 'rsyslog.conf'), conf);
  rsyslog = spawn(RSYSLOGD!, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslog.pid')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  rsyslog.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  for (const n of ['tcp', 'cef', 'tls'] as const) {
    const file = join(dir, `${n}.port`);
    ports[n] = await until(`rsyslogd's ${n} port (stderr: ${stderr})`, () => {
      const text = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
      return /^\d+$/.test(text) ? Number(text) : undefined;
    });
  }
});

after(() => {
  if (rsyslog?.pid !== undefined && rsyslog.exitCode === null) rsyslog.kill('SIGTERM');
});

function event(i: number): AuditEvent {
  const risks = ['low', 'medium', 'high', 'critical'] as const;
  const e: AuditEvent = {
    type: i % 2 === 0 ? 'policy.decision' : 'action.succeeded',
    actor: { type: 'agent', id: 'billing-bot', name: 'Billing | bot' },
    action: { type: 'write:refund', target: `order/${i}`, params: { amount: i } },
    risk_level: risks[i % 4]!,
    session_id: 'sess-1',
    trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
  };
  if (i % 2 === 0)
    e.policy = {
      decision: i % 4 === 0 ? 'deny' : 'allow',
      matched_rule: 'refund-limit',
      policy_id: 'billing',
      // CEF and syslog escaping: = \ ] " and a line break.
      reason: 'limit=500 \\ over ] "quoted"\nsecond line',
    };
  else e.outcome = { status: 'success', duration_ms: 5 };
  return e;
}

async function freshTrail(n: number): Promise<AuditTrail> {
  const trail = await openAuditTrail({ tenant: 'acme', db: join(tempDir(), 'audit.db') });
  await trail.recordBatch(Array.from({ length: n }, (_, i) => event(i)));
  return trail;
}

function config(sink: string, extra = ''): ExportConfig {
  return parseExportConfig(`exports:\n  - name: s\n    sink: ${sink}\n${extra}`)[0]!;
}

interface Line {
  pri: number;
  app: string;
  procid: string;
  msgid: string;
  sd: string;
  msg: string;
}

function lines(name: Input): Line[] {
  const file = join(dir, `${name}.log`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [pri, app, procid, msgid, ...rest] = l.split('|');
      const text = rest.join('|');
      const sdEnd = text.indexOf(']|');
      return {
        pri: Number(pri),
        app: app!,
        procid: procid!,
        msgid: msgid!,
        sd: text.slice(0, sdEnd + 1),
        msg: text.slice(sdEnd + 2).trimStart(),
      };
    });
}

function sdParam(sd: string, name: string): string | undefined {
  const m = new RegExp(` ${name}="((?:[^"\\\\]|\\\\.)*)"`).exec(sd);
  return m?.[1]?.replace(/\\(["\\\]])/g, '$1');
}

async function deliver(trail: AuditTrail, c: ExportConfig): Promise<number> {
  const { pipeline, sink } = openPipeline(trail, c, { context: CONTEXT, sleep: () => Promise.resolve() });
  try {
    return (await pipeline.run()).delivered;
  } finally {
    await sink.close();
  }
}

const SEVERITY = { low: 7, medium: 6, high: 4, critical: 3 } as const;

describe('syslog export to rsyslogd', { skip }, () => {
  it('sends RFC 5424 over TCP with octet counting: every event, in order, JSON that proves', async () => {
    const trail = await freshTrail(600);
    const c = config(
      `{ type: syslog, transport: tcp, host: 127.0.0.1, port: ${ports.tcp}, app_name: auditrail-test }`,
      '    format: native\n    batch: { max_events: 128 }\n',
    );
    assert.equal(await deliver(trail, c), 600);
    const got = await until('600 lines from rsyslog', () => {
      const l = lines('tcp');
      return l.length >= 600 ? l : undefined;
    });
    assert.equal(got.length, 600);
    const events = (await trail.query({ limit: 600 })).events;
    got.forEach((l, i) => {
      const e = events[i]!;
      // authpriv (10) * 8 + severity from risk.
      assert.equal(l.pri, 80 + SEVERITY[e.risk_level!]);
      assert.equal(l.app, 'auditrail-test');
      assert.equal(l.procid, String(process.pid));
      assert.equal(l.msgid, e.type);
      assert.ok(l.sd.startsWith('[auditrail@32473 '), l.sd);
      assert.equal(sdParam(l.sd, 'seq'), String(i));
      assert.equal(sdParam(l.sd, 'leaf_hash'), e.leaf_hash);
      const rec = JSON.parse(l.msg) as { seq: number; leaf_hash: string; policy?: { reason: string } };
      assert.equal(rec.seq, i);
      assert.equal(rec.leaf_hash, e.leaf_hash);
      if (e.policy) assert.equal(rec.policy?.reason, e.policy.reason);
    });
    await trail.close();
  });

  it('sends CEF inside syslog, escaped as the CEF spec says, severity from risk', async () => {
    const trail = await freshTrail(40);
    const c = config(`{ type: syslog, host: 127.0.0.1, port: ${ports.cef}, message: cef }`);
    assert.equal(await deliver(trail, c), 40);
    const got = await until('40 CEF lines', () => {
      const l = lines('cef');
      return l.length >= 40 ? l : undefined;
    });
    const events = (await trail.query({ limit: 40 })).events;
    got.forEach((l, i) => {
      const e = events[i]!;
      // Header: 7 unescaped pipes, then the extension.
      const fields: string[] = [];
      let cur = '';
      let k = 0;
      for (; k < l.msg.length && fields.length < 7; k++) {
        const ch = l.msg[k]!;
        if (ch === '\\') cur += l.msg[++k];
        else if (ch === '|') {
          fields.push(cur);
          cur = '';
        } else cur += ch;
      }
      const ext = l.msg.slice(k);
      assert.deepEqual(fields.slice(0, 5), ['CEF:0', 'auditrail', 'auditrail', '0.0.0-test', e.type]);
      assert.equal(fields[6], String({ low: 3, medium: 5, high: 8, critical: 10 }[e.risk_level!]));
      // Extension: key=value pairs; a value runs to the next unescaped ` key=`.
      const pairs = new Map<string, string>();
      for (const m of ext.matchAll(/(\w+)=((?:[^\\=]|\\.)*?)(?= \w+=|$)/g))
        pairs.set(m[1]!, m[2]!.replace(/\\n/g, '\n').replace(/\\([=\\])/g, '$1'));
      assert.equal(pairs.get('externalId'), e.event_id);
      assert.equal(pairs.get('cn1Label'), 'seq');
      assert.equal(pairs.get('cn1'), String(i));
      assert.equal(pairs.get('cs5'), e.leaf_hash);
      assert.equal(pairs.get('rt'), String(Date.parse(e.time ?? e.ts)));
      assert.equal(pairs.get('suid'), 'billing-bot');
      if (e.policy) {
        assert.equal(pairs.get('act'), e.policy.decision);
        assert.equal(pairs.get('reason'), e.policy.reason);
      } else assert.equal(pairs.get('outcome'), 'success');
    });
    await trail.close();
  });

  it('sends over TLS to a receiver whose CA it is given, and not to one it cannot verify', async () => {
    const trail = await freshTrail(50);
    const refused = config(
      `{ type: syslog, transport: tls, host: 127.0.0.1, port: ${ports.tls}, timeout_ms: 5000 }`,
      '    retry: { max_attempts: 2, initial_ms: 1 }\n',
    );
    await assert.rejects(
      deliver(trail, refused),
      /not delivered after 2 attempts \(tls:\/\/127\.0\.0\.1:\d+: self[- ]signed certificate/,
    );
    const c = config(
      `{ type: syslog, transport: tls, host: 127.0.0.1, port: ${ports.tls}, ca: "${join(dir, 'cert.pem')}" }`,
      '    batch: { max_events: 20 }\n',
    );
    assert.equal(await deliver(trail, c), 50);
    const got = await until('50 TLS lines', () => {
      const l = lines('tls');
      return l.length >= 50 ? l : undefined;
    });
    assert.deepEqual(
      got.map((l) => Number(sdParam(l.sd, 'seq'))),
      Array.from({ length: 50 }, (_, i) => i),
    );
    await trail.close();
  });

  it('sends over UDP, one datagram per message', async () => {
    const trail = await freshTrail(30);
    const c = config(
      `{ type: syslog, transport: udp, host: 127.0.0.1, port: ${ports.udp} }`,
      '    format: ecs\n',
    );
    assert.equal(await deliver(trail, c), 30);
    const got = await until('30 UDP lines', () => {
      const l = lines('udp');
      return l.length >= 30 ? l : undefined;
    });
    const seqs = got.map((l) => (JSON.parse(l.msg) as { event: { sequence: number } }).event.sequence);
    assert.deepEqual(
      seqs.sort((a, b) => a - b),
      Array.from({ length: 30 }, (_, i) => i),
    );
    await trail.close();
  });

  it('keeps the cursor while the receiver is down, and delivers from it once it is up', async () => {
    const trail = await freshTrail(10);
    const down = await freeUdpPort(); // a port nothing listens on (TCP side)
    const c = config(
      `{ type: syslog, host: 127.0.0.1, port: ${down}, timeout_ms: 2000 }`,
      '    retry: { max_attempts: 3, initial_ms: 1 }\n',
    );
    await assert.rejects(deliver(trail, c), /cursor stays at seq 0.*|ECONNREFUSED/s);
    const up = { ...c, sink: { ...c.sink, port: ports.tcp } } as ExportConfig;
    const before = lines('tcp').length;
    assert.equal(await deliver(trail, up), 10);
    await until('10 more TCP lines', () => (lines('tcp').length >= before + 10 ? true : undefined));
    await trail.close();
  });
});
