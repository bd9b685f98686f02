import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AuditError } from '../../src/errors.js';
import { openAuditTrail } from '../../src/index.js';
import { readOnlySql } from '../../src/store/read-only-sql.js';
import { backends } from '../postgres.js';
import { runCli, tempDir } from './helpers.js';

/** `auditrail <args>` in process: the exit code; what it printed goes to `out`. */
async function cli(args: string[], cwd: string, out: string[] = []): Promise<number> {
  const r = await runCli(args, { cwd });
  out.push(r.output);
  return r.code;
}

const isCode = (code: string) => (e: unknown) => {
  assert.ok(e instanceof AuditError, String(e));
  assert.equal(e.code, code, e.message);
  return true;
};

for (const backend of await backends()) {
  describe(`auditrail sql on ${backend.name}`, { skip: backend.skip ?? false }, () => {
    const dir = tempDir('auditrail-sql-');
    const db = backend.location(dir);
    const flag = backend.name === 'postgres' ? '--postgres' : '--db';
    after(() => backend.cleanup());

    it('answers over the documented views what the SDK recorded', async () => {
      assert.equal(await cli(['demo', flag, db], dir), 0);
      const trail = await openAuditTrail({ tenant: 'demo', db, readonly: true, keyDir: `${dir}/keys` });
      const size = trail.size;
      const denies = (await trail.query({ decision: 'deny', type: 'policy.decision', limit: 1000 })).events
        .length;
      const firstTwo = [];
      for (const seq of [0, 1]) firstTwo.push([seq, (await trail.get(seq))?.type]);
      await trail.close();
      const all = await readOnlySql(db, 'SELECT count(*) AS n, max(seq) AS last FROM events_v');
      assert.deepEqual(all.columns, ['n', 'last']);
      assert.deepEqual(all.rows, [[size, size - 1]]);
      const d = await readOnlySql(db, "SELECT count(*) FROM decisions_v WHERE decision = 'deny';");
      assert.deepEqual(d.rows, [[denies]]);
      assert.ok(denies > 0);
      const a = await readOnlySql(db, 'SELECT id, log, status, action_type FROM approvals_v');
      assert.ok(a.rows.length > 0);
      assert.equal(a.rows[0]![1], 'auditrail.local/t/demo/default');
      // Rows beyond --max-rows are cut, and the result says so.
      const cut = await readOnlySql(db, 'SELECT seq FROM events_v ORDER BY seq', { maxRows: 5 });
      assert.deepEqual(cut.rows, [[0], [1], [2], [3], [4]]);
      assert.equal(cut.truncated, true);
      // The CLI prints the same as JSON.
      const out: string[] = [];
      assert.equal(
        await cli(
          ['sql', 'SELECT seq, type FROM events_v WHERE seq < 2 ORDER BY seq', flag, db, '--json'],
          dir,
          out,
        ),
        0,
      );
      assert.deepEqual(JSON.parse(out.join('')).rows, firstTwo);
    });

    it('refuses every write, and nothing changes', async () => {
      const before = await readOnlySql(db, 'SELECT count(*) FROM entries');
      for (const sql of [
        'DELETE FROM entries',
        'UPDATE meta SET value = 1',
        "INSERT INTO meta VALUES ('k', 'v')",
        'DROP TABLE meta',
        'WITH x AS (DELETE FROM meta RETURNING *) SELECT * FROM x',
        'SELECT 1; DELETE FROM meta',
        'SELECT 1) q; DELETE FROM meta; SELECT (1',
      ]) {
        await assert.rejects(
          readOnlySql(db, sql),
          (e) => e instanceof AuditError && ['invalid_argument', 'read_only'].includes(e.code),
          sql,
        );
      }
      assert.deepEqual(await readOnlySql(db, 'SELECT count(*) FROM entries'), before);
      assert.ok(((await readOnlySql(db, 'SELECT count(*) FROM meta')).rows[0]![0] as number) > 0);
      const out: string[] = [];
      assert.equal(await cli(['sql', 'DELETE FROM entries', flag, db], dir, out), 2);
      assert.match(out.join(''), /only queries run here .* not DELETE/);
    });

    it('stops a long query at the timeout with a clear error', async () => {
      const endless =
        backend.name === 'postgres'
          ? 'SELECT count(*) FROM generate_series(1, 10000000000)'
          : 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c';
      const t0 = Date.now();
      await assert.rejects(readOnlySql(db, endless, { timeoutMs: 300 }), (e) => {
        isCode('timeout')(e);
        assert.match((e as Error).message, /ran longer than 300 ms and was stopped/);
        return true;
      });
      // Generous: the bound is the statement's, plus starting the query on a loaded machine.
      assert.ok(Date.now() - t0 < 30_000);
      const out: string[] = [];
      assert.equal(await cli(['sql', endless, flag, db, '--timeout', '300'], dir, out), 1);
      assert.match(out.join(''), /error: the query ran longer than 300 ms/);
    });

    it('names a bad query, a missing view or a bad bound', async () => {
      await assert.rejects(readOnlySql(db, '   '), isCode('invalid_argument'));
      await assert.rejects(readOnlySql(db, 'SELECT * FROM no_such_view'), /no_such_view/);
      await assert.rejects(readOnlySql(db, 'SELECT 1', { timeoutMs: 0 }), /timeout must be an integer/);
      await assert.rejects(readOnlySql(db, 'SELECT 1', { maxRows: 1.5 }), /max rows must be an integer/);
    });
  });
}
