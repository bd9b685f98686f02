import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const dir = join(import.meta.dirname, '..', '..', 'examples');

describe('examples run as documented', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    it(`node --import tsx examples/${file}`, () => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, file)], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 0, `${file} exited with ${r.status}:\n${r.stderr}`);
      // Each example ends by verifying the log it wrote, and prints its timeline.
      assert.match(r.stdout, /log verifies: true/);
      assert.match(r.stdout, /action\.intent/);
      assert.match(r.stdout, /policy\.decision/);
    });
  }
});
