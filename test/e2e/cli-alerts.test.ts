// `auditrail alerts`, `alerts status`, `alerts replay`, `responses run|list|revert` in process
// against a real SQLite file and a real HTTP receiver on 127.0.0.1; and `auditrail serve` with a
// config whose alerts: and responses: follow the log.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openAuditTrail, type AuditTrail } from '../../src/index.js';
import { serve } from '../../src/server/index.js';
import { parseAlertConfig } from '../../src/detect/alerts/index.js';
import { parseResponseConfig } from '../../src/detect/responses/index.js';
import { runCli, tempDir } from '../integration/helpers.js';

const run = (args: string[], cwd: string, env: Record<string, string> = {}) =>
  runCli(args, { cwd, env: { PATH: '', ...env }, columns: 100 });

const bodies: unknown[] = [];
let refuse = 0;
const server = createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (raw += c));
  req.on('end', () => {
    if (refuse > 0) {
      refuse--;
      res.writeHead(400).end('invalid_payload');
      return;
    }
    bodies.push(JSON.parse(raw));
    res.writeHead(200).end('ok');
  });
});
after(() => {
  server.closeAllConnections();
  server.close();
});

function anomaly(id: string) {
  return {
    type: 'anomaly.detected' as const,
    actor: { type: 'system' as const, id: 'auditrail-detect' },
    risk_level: 'high' as const,
    metadata: {
      anomaly: {
        id,
        detector: 'denial_spike',
        agent_id: 'support-bot',
        score: 9,
        threshold: 3,
        seqs: [0],
        summary: 'denials',
      },
    },
  };
}

async function waitFor(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe('auditrail alerts / responses', { timeout: 120_000 }, () => {
  it('delivers, shows status, replays a dead letter with the printed hint; applies, lists and reverts a response', async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const trail = await openAuditTrail({ tenant: 'acme', db });
    await trail.record(anomaly('an-1'));
    await trail.record(anomaly('an-2'));
    await trail.close();
    writeFileSync(
      join(dir, 'auditrail.yaml'),
      `alerts:\n  - name: oncall\n    channel: slack\n    url: "${url}/services/\${SLACK_TOKEN}"\n    start: beginning\n` +
        `responses:\n  - when: { detector: denial_spike }\n    do: quarantine\n`,
    );
    const target = ['--db', db, '--tenant', 'acme'];
    const env = { SLACK_TOKEN: 'T0/B0/secret-slack-token' };

    refuse = 1;
    const a = await run(['alerts', ...target], dir, env);
    assert.equal(a.code, 1, 'a dead letter makes the run fail');
    assert.match(a.stderr, /oncall: 1 alerts delivered, 1 refused \(dead letters\)/);
    assert.doesNotMatch(a.stderr, /secret-slack-token/);
    const s = await run(['alerts', 'status', ...target], dir, env);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /oncall \(slack\): next seq 2, lag 0 events, 1 dead letters/);
    const hint = /replay: (.*)$/m.exec(s.stdout)![1]!.split(' ');
    assert.deepEqual(hint.slice(0, 2), ['npx', 'auditrail']);
    const r = await run(hint.slice(2), dir, env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /1 dead letters delivered, 0 refused again/);
    assert.equal(bodies.length, 2);

    const applied = await run(['responses', 'run', ...target], dir);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stderr, /2 anomalies read, 2 responses applied/);
    const list = await run(['responses', 'list', ...target], dir);
    assert.equal(list.code, 0, list.stderr);
    const ids = [
      ...list.stdout.matchAll(/^(rsp_[0-9a-f]{24}) {2}support-bot {2}quarantine {2}anomaly an-\d/gm),
    ].map((m) => m[1]!);
    assert.equal(ids.length, 2);
    const revertHint = /revert: (.*)$/m.exec(list.stdout)![1]!.split(' ');
    const noReason = await run(['responses', 'revert', ids[0]!, ...target], dir);
    assert.equal(noReason.code, 2);
    assert.match(noReason.stderr, /needs --reason/);
    const rev = await run(revertHint.slice(2), dir);
    assert.equal(rev.code, 0, rev.stderr);
    assert.match(rev.stdout, /^reverted rsp_/);
    const after1 = await run(['responses', 'list', '--json', '--all', ...target], dir);
    const json = JSON.parse(after1.stdout) as { responses: { id: string; reverted?: { reason: string } }[] };
    assert.equal(json.responses.filter((x) => x.reverted?.reason === 'reviewed').length, 1);
  });

  it('auditrail serve follows alerts: and responses: of the config', async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = tempDir();
    const db = join(dir, 'audit.db');
    const before = bodies.length;
    const s = await serve(
      {
        db,
        port: 0,
        logger: false,
        firstKeyTenant: 'acme',
        alerts: parseAlertConfig(
          `alerts:\n  - name: hook\n    channel: webhook\n    url: ${url}/hook\n    secret: s3cret\n`,
        ),
        responses: parseResponseConfig('responses:\n  - when: { detector: "*" }\n    do: quarantine\n'),
      },
      false,
    );
    try {
      const trail: AuditTrail = await s.app.auditrail.trail('acme');
      await trail.record(anomaly('an-serve'));
      await waitFor(() => bodies.length > before, 'the alert');
      assert.equal((bodies[before] as { anomaly_id: string }[])[0]!.anomaly_id, 'an-serve');
      await waitFor(async () => (await trail.count({ type: 'response.applied' })) === 1, 'the response');
    } finally {
      await s.close();
    }
  });
});
