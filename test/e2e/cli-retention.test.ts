// `auditrail retention plan|apply|vacuum` end to end: the real entry point in a child process
// against a SQLite log whose old entries were written with a clock set to 2019.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openAuditTrail, parsePrivacyConfig } from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'auditrail-cli-retention-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'audit.db');
const config = join(dir, 'auditrail.yaml');

function cli(args: string[], at = db): { code: number | null; stdout: string; stderr: string } {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', AUDITRAIL_DB: at };
  for (const k of ['AUDITRAIL_TENANT', 'AUDITRAIL_LOG', 'AUDITRAIL_CONFIG', 'FORCE_COLOR']) delete env[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  const clock = { t: Date.parse('2019-01-01T00:00:00Z') };
  const trail = await openAuditTrail({ tenant: 'acme', db, now: () => clock.t, checkpointIntervalMs: 0 });
  for (let i = 0; i < 30; i++) {
    await trail.record({
      type: i % 2 === 0 ? 'context.accessed' : 'policy.decision',
      actor: { type: 'agent', id: 'bot' },
      action: { type: 'read:crm', target: `customer/${i}`, params: { q: `secret-query-${i}` } },
      ...(i % 2 === 1 ? { policy: { decision: 'allow' as const, policy_id: 'p', matched_rule: 'r' } } : {}),
      session_id: `s-${i % 3}`,
    });
    clock.t += 60_000;
  }
  await trail.checkpoint();
  await trail.close();
  writeFileSync(
    config,
    [
      'retention:',
      '  presets: [soc2]',
      '  rules:',
      '    - name: decisions',
      '      type: policy.decision',
      '      keep: 20y',
      '      purge: disclosures',
      '    - name: context',
      '      type: "context.*"',
      '      keep: 1y',
      '      purge: disclosures',
      '',
    ].join('\n'),
  );
});

describe('auditrail retention', () => {
  it('plan prints what would go and changes nothing', () => {
    const r = cli(['retention', 'plan', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rule decisions: keep 20y, purge disclosures, .*nothing due/);
    assert.match(r.stdout, /rule context: keep 1y, purge disclosures, .*: 15 entries, 15 disclosures/);
    assert.match(r.stdout, /context\.accessed 15/);
    assert.match(r.stdout, /would purge: 15 entries/);
    const json = JSON.parse(cli(['retention', 'plan', '--config', config, '--json']).stdout) as {
      total: { events: number };
      rules: { rule: string; oldest: string }[];
    };
    assert.equal(json.total.events, 15);
    assert.match(json.rules[1]!.oldest, /^2019-01-01T00:00:00/);
    assert.match(cli(['show', '0']).stdout, /secret-query-0/, 'nothing was purged by plan');
  });

  it('apply purges, records retention.purged, verify passes, and a second apply does nothing', () => {
    const r = cli(['retention', 'apply', '--config', config, '--reason', 'yearly run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /purged: 15 entries/);
    assert.match(r.stdout, /recorded as retention\.purged at seq 30/);
    assert.match(r.stdout, /disk: .* \(incremental vacuum\)/);
    const shown = cli(['show', '0']);
    assert.doesNotMatch(shown.stdout, /secret-query-0/);
    assert.match(cli(['show', '1']).stdout, /secret-query-1/, 'decisions are kept 20 years');
    const purge = cli(['show', '30']);
    assert.match(purge.stdout, /retention\.purged/);
    assert.match(purge.stdout, /yearly run/);
    const v = cli(['verify']);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const again = cli(['retention', 'apply', '--config', config]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /purged: 0 entries/);
    assert.doesNotMatch(again.stdout, /recorded as retention\.purged/);
  });

  it('refuses a config that keeps less than a preset requires, naming the line', () => {
    const bad = join(dir, 'short.yaml');
    writeFileSync(
      bad,
      'retention:\n  presets: [eu-ai-act]\n  rules:\n    - type: "*"\n      keep: 90d\n      purge: disclosures\n',
    );
    const r = cli(['retention', 'plan', '--config', bad]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(
      r.stderr,
      /short\.yaml line 5: retention\.rules\[0\]\.keep is 90d, less than the 6m preset eu-ai-act requires/,
    );
  });

  it('says what to do without a config or without a retention: key', () => {
    const none = cli(['retention', 'plan']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no config: pass --config FILE/);
    const other = join(dir, 'other.yaml');
    writeFileSync(other, 'schedules: []\n');
    const r = cli(['retention', 'plan', '--config', other]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /has no retention: key/);
  });

  it('vacuum reports the disk reclaimed', () => {
    const r = cli(['retention', 'vacuum']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /disk: .* \(incremental vacuum\)/);
  });

  it('check and report say where the log is sampled', async () => {
    const sampledDb = join(dir, 'sampled.db');
    const sampling = parsePrivacyConfig(
      'sampling:\n  rules:\n    - name: reads\n      type: context.accessed\n      risk: low\n      keep: 1/4\n',
    ).sampling!;
    const trail = await openAuditTrail({ tenant: 'acme', db: sampledDb, sampling, checkpointIntervalMs: 0 });
    let dropped = 0;
    for (let i = 0; i < 40; i++) {
      const r = await trail.record({
        type: 'context.accessed',
        actor: { type: 'agent', id: 'bot' },
        risk_level: 'low',
        time: '2026-12-01T10:00:00Z',
      });
      if (r.sampled_out) dropped++;
    }
    await trail.close();
    const r = cli(['check'], sampledDb);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`note: sampled \\(seq \\d+\\): rule reads kept 1 in 4, dropped ${dropped} of 40 events`),
    );
    const json = JSON.parse(cli(['check', '--json'], sampledDb).stdout) as { sampled: { dropped: number }[] };
    assert.equal(json.sampled[0]!.dropped, dropped);
    const out = join(dir, 'report.json');
    const rep = cli(['report', '--type', 'soc2', '--format', 'json', '-o', out], sampledDb);
    assert.equal(rep.code, 0, rep.stdout + rep.stderr);
    assert.match(readFileSync(out, 'utf8'), /This log is sampled: rule reads kept 1 in 4 and dropped/);
  });

  it('serve applies the config: sampling on ingestion (summary on stop), retention scheduled, bad config refused', async () => {
    const serveDb = join(dir, 'serve.db');
    const cfg = join(dir, 'serve.yaml');
    writeFileSync(
      cfg,
      [
        'retention:',
        '  schedule: "0 3 * * *"',
        '  presets: [soc2]',
        'sampling:',
        '  rules:',
        '    - name: reads',
        '      type: context.accessed',
        '      risk: low',
        '      keep: 1/4',
        '',
      ].join('\n'),
    );
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', MAIN, 'serve', '--db', serveDb, '--port', '0', '--quiet', '--config', cfg],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    const started = await new Promise<{ url: string; key: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const url = /auditrail serve: (http:\/\/\S+)/.exec(out)?.[1];
        const key = /^(atr_\S+)$/m.exec(out)?.[1];
        if (url && key) {
          clearTimeout(timer);
          resolve({ url, key });
        }
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
    try {
      assert.match(out, /retention: 0 3 \* \* \* \(UTC\), 1 rule\(s\)/);
      assert.match(out, /sampling reads: keep 1 in 4/);
      const events = Array.from({ length: 40 }, () => ({
        type: 'context.accessed',
        actor: { type: 'agent', id: 'bot' },
        risk_level: 'low',
      }));
      const r = await fetch(`${started.url}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${started.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(events),
      });
      assert.equal(r.status, 201);
      const receipts = ((await r.json()) as { receipts: { seq: number; sampled_out?: boolean }[] }).receipts;
      const dropped = receipts.filter((x) => x.sampled_out === true).length;
      assert.ok(dropped > 10 && dropped < 40, `dropped ${dropped}`);
      for (const x of receipts) assert.equal(x.seq === -1, x.sampled_out === true);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      const check = JSON.parse(cli(['check', '--json', '--tenant', 'default'], serveDb).stdout) as {
        sampled: { dropped: number; matched: number }[];
      };
      assert.deepEqual(
        check.sampled.map((x) => [x.dropped, x.matched]),
        [[dropped, 40]],
      );
    } finally {
      child.kill('SIGKILL');
    }
    const bad = join(dir, 'bad-serve.yaml');
    writeFileSync(bad, 'sampling:\n  rules:\n    - type: "approval.*"\n      risk: low\n      keep: 1/2\n');
    const refused = spawnSync(
      process.execPath,
      ['--import', 'tsx', MAIN, 'serve', '--db', serveDb, '--port', '0', '--config', bad],
      { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(refused.status, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /bad-serve\.yaml line 3: sampling\.rules\[0\]\.type .* matches approval\./);
  });
});
