import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkConfigSections, configLocation } from './config-file.js';
import type { Io } from './io.js';
import { main } from './main.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'auditrail-config-'));
  dirs.push(d);
  return d;
}

function io(cwd: string, env: Record<string, string> = {}): Io & { err: () => string } {
  let err = '';
  return {
    stdout: { write: () => undefined },
    stderr: { write: (s: string) => void (err += s) },
    isTTY: { stdout: false, stderr: false },
    env,
    cwd,
    err: () => err,
  };
}

describe('the config file', () => {
  it('refuses a top-level key no part of the product reads, naming it and its line', () => {
    const dir = tempDir();
    const file = join(dir, 'auditrail.yaml');
    writeFileSync(file, 'schedules: []\n# the sinks\nexprots:\n  - name: x\n');
    assert.throws(
      () => checkConfigSections(file, 'auditrail.yaml'),
      (e: Error & { code?: string }) =>
        e.code === 'invalid_argument' &&
        /^auditrail\.yaml line 3: unknown top-level key "exprots" \(the config's sections are schedules, exports,/.test(
          e.message,
        ),
    );
    writeFileSync(
      file,
      'schedules: []\nexports: []\nretention: {}\nsampling: {}\ndetect: {}\nalerts: []\nresponses: []\n',
    );
    checkConfigSections(file, 'auditrail.yaml');
    // Unreadable or not YAML: left to the section parsers, which say why.
    checkConfigSections(join(dir, 'missing.yaml'), 'missing.yaml');
    writeFileSync(file, 'exports: [\n');
    checkConfigSections(file, 'auditrail.yaml');
  });

  it('is --config, else $AUDITRAIL_CONFIG, else ./auditrail.yaml of the working directory', () => {
    assert.deepEqual(configLocation('c.yaml', io('/srv')), {
      path: '/srv/c.yaml',
      arg: 'c.yaml',
      named: true,
    });
    assert.deepEqual(configLocation(undefined, io('/srv', { AUDITRAIL_CONFIG: '/etc/a.yaml' })), {
      path: '/etc/a.yaml',
      arg: '/etc/a.yaml',
      named: true,
    });
    assert.deepEqual(configLocation(undefined, io('/srv')), {
      path: '/srv/auditrail.yaml',
      arg: 'auditrail.yaml',
      named: false,
    });
  });

  it('is checked by the commands that read it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'auditrail.yaml'), 'exprots: []\n');
    for (const args of [['export', 'status'], ['alerts', 'status'], ['detect'], ['retention', 'plan']]) {
      const out = io(dir, { AUDITRAIL_DB: join(dir, 'audit.db') });
      const code = await main(args, out);
      assert.notEqual(code, 0, args.join(' '));
      assert.match(out.err(), /unknown top-level key "exprots"/, `${args.join(' ')}: ${out.err()}`);
    }
  });
});
