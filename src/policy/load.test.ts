import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PolicyError, formatIssue } from './bundle.js';
import { loadPolicyFile } from './load.js';

describe('loadPolicyFile', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'auditrail-policy-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the example bundle', async () => {
    const path = fileURLToPath(new URL('./testdata/support-agent.yaml', import.meta.url));
    const bundle = await loadPolicyFile(path);
    assert.equal(bundle.policyId, 'support-agent');
    assert.equal(bundle.rules.length, 3);
  });

  it('reports problems against the path given', async () => {
    const path = join(dir, 'bad.yaml');
    await writeFile(path, 'policy_id: p\nversion: 1\nrules:\n  - id: r\n    effect: permit\n');
    await assert.rejects(loadPolicyFile(path), (e: unknown) => {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.code, 'policy_invalid');
      assert.deepEqual(e.issues.map(formatIssue), [
        `${path}:5:13: rules[0].effect: must be one of allow, deny, require_approval (got "permit")`,
      ]);
      return true;
    });
  });

  it('an unreadable file is a PolicyError with its cause', async () => {
    const path = join(dir, 'missing.yaml');
    await assert.rejects(loadPolicyFile(path), (e: unknown) => {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.code, 'policy_unreadable');
      assert.deepEqual(e.issues, [{ file: path, path: '', message: 'cannot read file (ENOENT)' }]);
      assert.ok(e.cause instanceof Error);
      return true;
    });
  });

  it('refuses an oversized file without reading it', async () => {
    const path = join(dir, 'huge.yaml');
    await writeFile(path, `# ${'x'.repeat(1024 * 1024)}\n`);
    await assert.rejects(loadPolicyFile(path), (e: unknown) => {
      assert.ok(e instanceof PolicyError);
      assert.equal(e.code, 'policy_unreadable');
      assert.match(e.issues[0]?.message ?? '', /larger than/);
      return true;
    });
  });
});
