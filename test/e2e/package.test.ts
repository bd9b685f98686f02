// What `npm publish` would ship: every `exports` entry resolves to packed files, no test or
// contract file is packed (the contract imports node:test), and no source map points at a file
// the package does not hold. Reads dist/: `npm run build` first.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface PackEntry {
  files: { path: string }[];
}

let packed: Set<string>;

before(() => {
  assert.ok(existsSync(join(ROOT, 'dist', 'index.js')), 'dist/ is missing: run `npm run build` first');
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const [entry] = JSON.parse(r.stdout) as PackEntry[];
  assert.ok(entry);
  packed = new Set(entry.files.map((f) => f.path));
});

describe('the packed package', () => {
  it('every exports entry points at packed files', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, string | Record<string, string>>;
    };
    const names = Object.keys(pkg.exports);
    for (const want of ['.', './store', './testing', './mcp', './adapters/ai-sdk']) {
      assert.ok(names.includes(want), `exports has ${want}`);
    }
    for (const [name, target] of Object.entries(pkg.exports)) {
      for (const file of typeof target === 'string' ? [target] : Object.values(target)) {
        assert.ok(packed.has(posix.normalize(file)), `${name} -> ${file} is packed`);
      }
    }
  });

  it('packs no test and no contract file', () => {
    const stray = [...packed].filter((p) => /\.(test|contract)\.(js|d\.ts|ts)$/.test(p));
    assert.deepEqual(stray, []);
  });

  it('no source map points at a file the package does not hold', () => {
    const maps = [...packed].filter((p) => p.endsWith('.map'));
    for (const map of maps) {
      const { sources = [] } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as { sources?: string[] };
      for (const source of sources) {
        const target = posix.normalize(posix.join(dirname(map), source));
        assert.ok(packed.has(target), `${map} names ${source}, which is not packed`);
      }
    }
  });
});
