// Soak: 200,000 events recorded while the SIEM receiver is down, then delivered while it flaps
// (accepting, 503 with Retry-After, slow, dropping the connection before answering, dropping it
// after taking the batch). The exporter is `auditrail export --sink --follow` in its own process,
// as in production; the test records in this one against the same SQLite file. Afterwards every
// event was delivered at least once, in order, with duplicates only right after a failure, and
// record() latency while the receiver was down or flapping is compared with no exporter running.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { openAuditTrail, type AuditEvent, type AuditTrail } from '../../src/index.js';
import { tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const N = 200_000;

type Mode = 'ok' | '503' | 'slow' | 'drop' | 'drop-after-accept';
/** The flapping cycle, one mode per request. */
const FLAP: Mode[] = ['ok', '503', 'ok', 'slow', 'drop', 'ok', 'drop-after-accept', 'ok', 'ok'];

interface Batch {
  seqs: number[];
  /** The receiver took it but dropped the connection: the exporter will send it again. */
  lostAnswer: boolean;
}

function event(i: number): AuditEvent {
  return {
    type: i % 3 === 0 ? 'policy.decision' : 'action.succeeded',
    actor: { type: 'agent', id: 'soak-bot' },
    action: { type: 'db.query', target: `t/${i % 97}` },
    risk_level: (['low', 'medium', 'high', 'critical'] as const)[i % 4]!,
  };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Latency of `count` single record() calls, in ms. */
async function recordLatency(trail: AuditTrail, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = process.hrtime.bigint();
    await trail.record({ type: 'x.soak.probe', actor: { type: 'service', id: 'probe' }, metadata: { i } });
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

describe('SIEM export soak', () => {
  it('delivers 200,000 events after an outage and through a flapping receiver, in order', async () => {
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db });
    const baseline = await recordLatency(trail, 300);

    // The receiver's port, reserved now and listened on only later: until then, connection refused.
    const batches: Batch[] = [];
    let requests = 0;
    const server: Server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const mode = FLAP[requests++ % FLAP.length]!;
        if (mode === 'drop') return req.socket.destroy();
        if (mode === '503') return res.writeHead(503, { 'retry-after': '0' }).end();
        const take = (): void => {
          const seqs = (JSON.parse(Buffer.concat(parts).toString()) as { seq: number }[]).map((r) => r.seq);
          batches.push({ seqs, lostAnswer: mode === 'drop-after-accept' });
          if (mode === 'drop-after-accept') req.socket.destroy();
          else res.writeHead(200).end('{}');
        };
        if (mode === 'slow') setTimeout(take, 400);
        else take();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));

    writeFileSync(
      join(dir, 'auditrail.yaml'),
      [
        'exports:',
        '  - name: hook',
        `    sink: { type: webhook, url: "http://127.0.0.1:${port}/", secret: "s", timeout_ms: 5000 }`,
        '    batch: { max_events: 2000, max_bytes: 4000000, max_wait_ms: 50 }',
        '    retry: { initial_ms: 50, max_ms: 400 }',
        '',
      ].join('\n'),
    );
    const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1' };
    for (const k of ['AUDITRAIL_TENANT', 'AUDITRAIL_LOG', 'AUDITRAIL_DB', 'AUDITRAIL_CONFIG']) delete env[k];
    const exporter = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        MAIN,
        'export',
        '--sink',
        'hook',
        '--follow',
        '--config',
        join(dir, 'auditrail.yaml'),
        '--db',
        db,
        '--tenant',
        'acme',
      ],
      { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    exporter.stderr.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-20_000)));
    const exited = new Promise<number | null>((r) => exporter.on('close', (code) => r(code)));
    try {
      // The outage: 200,000 events recorded while nothing listens; the exporter retries meanwhile.
      for (let i = 0; i < N; i += 2000)
        await trail.recordBatch(Array.from({ length: 2000 }, (_, j) => event(i + j)));
      const whileDown = await recordLatency(trail, 300);
      assert.equal(batches.length, 0);
      assert.match(stderr, /ECONNREFUSED/);

      // The receiver comes back, flapping.
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      const whileFlapping = await recordLatency(trail, 300);
      const total = trail.size;
      const deadline = Date.now() + 150_000;
      const seen = new Set<number>();
      let counted = 0;
      while (seen.size < total) {
        for (; counted < batches.length; counted++) for (const s of batches[counted]!.seqs) seen.add(s);
        if (Date.now() > deadline)
          assert.fail(
            `only ${seen.size} of ${total} events delivered; exporter said:\n${stderr.slice(-2000)}`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }

      // Every seq, in order: each batch is a contiguous run that starts right after the previous
      // one, or (a resend) at or before its end only when the previous answer was lost.
      let last = -1;
      let resent = 0;
      for (const [i, b] of batches.entries()) {
        assert.ok(b.seqs.length > 0);
        b.seqs.forEach((s, j) => assert.equal(s, b.seqs[0]! + j, `batch ${i} is not contiguous`));
        if (b.seqs[0] !== last + 1) {
          assert.ok(batches[i - 1]?.lostAnswer, `batch ${i} starts at ${b.seqs[0]} after ${last}`);
          assert.ok(b.seqs[0]! <= last, `batch ${i} skips from ${last} to ${b.seqs[0]}`);
          resent++;
        }
        last = Math.max(last, b.seqs[b.seqs.length - 1]!);
      }
      assert.equal(last, total - 1);
      assert.ok(
        batches.some((b) => b.lostAnswer),
        'the flapping cycle reached a lost answer',
      );
      assert.ok(resent > 0);
      assert.ok(requests > batches.length, 'some requests failed and were retried');

      // record() does not wait for the exporter: while the receiver was down or flapping, its
      // median stays near the baseline's (a generous bound: the exporter shares this machine's CPUs).
      const [b50, d50, f50] = [baseline, whileDown, whileFlapping].map((x) => quantile(x, 0.5));
      const [b99, d99, f99] = [baseline, whileDown, whileFlapping].map((x) => quantile(x, 0.99));
      console.log(
        `# record() ms p50/p99: no exporter ${b50!.toFixed(2)}/${b99!.toFixed(2)}, ` +
          `receiver down ${d50!.toFixed(2)}/${d99!.toFixed(2)}, flapping ${f50!.toFixed(2)}/${f99!.toFixed(2)}; ` +
          `${requests} requests, ${batches.length} batches taken, ${resent} resent`,
      );
      assert.ok(d50! < b50! * 4 + 2, `median record() while down: ${d50} ms vs ${b50} ms`);
      assert.ok(f50! < b50! * 4 + 2, `median record() while flapping: ${f50} ms vs ${b50} ms`);
    } finally {
      exporter.kill('SIGINT');
      const code = await exited;
      server.close();
      await trail.close();
      assert.equal(code, 0, stderr.slice(-2000));
    }
  });
});
