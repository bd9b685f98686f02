// Frozen report and evidence fixtures (test/compat/report-v1/README.md): reports and evidence
// packages written in an older format keep verifying with this version, and an edit to them is
// still found. The fixtures are never regenerated.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { verifyEvidence } from '../../src/report/evidence.js';
import { verifyReport } from '../../src/report/reports/report.js';

const V1 = fileURLToPath(new URL('report-v1', import.meta.url));
const bytes = (name: string): Buffer => readFileSync(join(V1, name));
const key = (): string => bytes('log.vkey').toString('utf8').trim();

/** SHA-256 of every data file as the v1 code wrote it: a regenerated fixture is refused here. */
const FROZEN_V1: Record<string, string> = {
  'evidence.tar.gz': '59cad7c42125502081e15dab6e4a9729ee7a09ed7e779a61b848ddae062aa272',
  'log.vkey': '4c0c28a2034d7e90e3b6ee8561d91c1aa9fc26c5411bad92ddfbd131e140ae29',
  'soc2.html': '154f0cb87a392a89037970156da06e8aab4e212173f81708d6058ecbb61defc5',
  'summary.json': 'f7c619e1d0306d37bf374edb9c7554413860ce7f4cdd1a80b2557821473aaf8f',
};

describe('report-v1 fixtures', () => {
  it('are the files the v1 code wrote', () => {
    for (const [name, digest] of Object.entries(FROZEN_V1))
      assert.equal(createHash('sha256').update(bytes(name)).digest('hex'), digest, name);
  });

  for (const name of ['soc2.html', 'summary.json']) {
    it(`${name} verifies against the log's key, and an edit to it does not`, () => {
      const text = bytes(name).toString('utf8');
      const check = verifyReport(text, { trustedKey: key() });
      assert.deepEqual(check.failures, []);
      assert.equal(check.model?.format, 'auditrail-report/v1');
      assert.ok((check.model?.totals.events ?? 0) > 100);
      // The approver of the first approval, as the report shows it.
      const edited = text.replace('maria.chen', 'mallory');
      assert.ok(edited !== text);
      const kinds = verifyReport(edited, { trustedKey: key() }).failures.map((f) => f.kind);
      assert.ok(
        kinds.length > 0 && kinds.every((k) => k === 'row_edited' || k === 'content_edited'),
        kinds.join(),
      );
    });
  }

  it('evidence.tar.gz verifies, with its erased field and its boundaries', async () => {
    const r = await verifyEvidence(bytes('evidence.tar.gz'), { trustedKey: key() });
    assert.deepEqual(r.failures, []);
    assert.equal(r.summary?.events, 130);
    assert.deepEqual(r.summary?.range, { from: 7, to: 139 });
    assert.ok(r.summary?.erased.some((e) => e.by_seq === 147));
  });
});
