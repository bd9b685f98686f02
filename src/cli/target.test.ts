import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Io } from './io.js';
import { cliName, commandLine, resolveTarget, shellQuote } from './target.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function io(env: Record<string, string> = {}, cwd = '/work/app'): Io {
  return {
    stdout: { write: () => undefined },
    stderr: { write: () => undefined },
    isTTY: { stdout: false, stderr: false },
    env,
    cwd,
    columns: 100,
  };
}

describe('printed commands work when pasted', () => {
  it('say npx auditrail unless auditrail is on PATH', () => {
    assert.equal(cliName(io({ PATH: '/nonexistent' })), 'npx auditrail');
    const bin = mkdtempSync(join(tmpdir(), 'auditrail-path-'));
    dirs.push(bin);
    writeFileSync(join(bin, 'auditrail'), '#!/bin/sh\n', { mode: 0o755 });
    assert.equal(cliName(io({ PATH: `/nonexistent:${bin}` })), 'auditrail');
    assert.equal(cliName(io({ PATH: bin, npm_command: 'exec' })), 'npx auditrail');
  });

  it('repeat --db, --tenant and --log when not the defaults, quoted for the shell', () => {
    const env = { PATH: '/nonexistent' };
    const plain = resolveTarget({}, io(env));
    assert.equal(commandLine(io(env), plain, 'log'), 'npx auditrail log');
    const named = resolveTarget({ db: 'my dir/audit.db', tenant: 'acme', log: 'prod' }, io(env));
    assert.equal(
      commandLine(io(env), named, 'approvals', 'approve', 'apr_1', '--as', 'NAME'),
      "npx auditrail approvals approve apr_1 --as NAME --db 'my dir/audit.db' --tenant acme --log prod",
    );
    // From elsewhere (the MCP proxy's operator), the database path is absolute.
    assert.match(
      commandLine({ ...io(env), cwd: '/' }, named, 'log'),
      /--db '\/work\/app\/my dir\/audit\.db'/,
    );
    // A tenant named by the environment is repeated: the variable may not be set where it is pasted.
    const byEnv = resolveTarget({}, io({ ...env, AUDITRAIL_TENANT: 'demo' }));
    assert.equal(commandLine(io(env), byEnv, 'show', '3'), 'npx auditrail show 3 --tenant demo');
    assert.equal(commandLine(io(env), named, 'logs'), "npx auditrail logs --db 'my dir/audit.db'");
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });
});

describe('--postgres and $AUDITRAIL_POSTGRES', () => {
  const env = { PATH: '/nonexistent' };
  it('name a PostgreSQL database, repeated in hints with the user and schema, never a password', () => {
    const t = resolveTarget({ postgres: 'postgres://audit:s3cret@db:5432/audit?schema=acme' }, io(env));
    assert.equal(t.db, 'postgres://audit:s3cret@db:5432/audit?schema=acme');
    const line = commandLine(io(env), t, 'verify');
    assert.equal(line, "npx auditrail verify --postgres 'postgres://audit@db:5432/audit?schema=acme'");
    const byEnv = resolveTarget({}, io({ ...env, AUDITRAIL_POSTGRES: 'postgres://db/audit' }));
    assert.equal(byEnv.db, 'postgres://db/audit');
    assert.equal(commandLine(io(env), byEnv, 'log'), 'npx auditrail log --postgres postgres://db/audit');
  });

  it('refuse --db with --postgres, a --postgres that is not a URL, and both variables set', () => {
    assert.throws(
      () => resolveTarget({ db: 'a.db', postgres: 'postgres://db/x' }, io(env)),
      /either --db or --postgres/,
    );
    assert.throws(() => resolveTarget({ postgres: 'a.db' }, io(env)), /--postgres needs a postgres:\/\/ URL/);
    assert.throws(
      () => resolveTarget({}, io({ ...env, AUDITRAIL_DB: 'a.db', AUDITRAIL_POSTGRES: 'postgres://db/x' })),
      /both AUDITRAIL_DB and AUDITRAIL_POSTGRES are set/,
    );
    // A flag settles it: the variables are only defaults.
    assert.equal(
      resolveTarget(
        { db: 'a.db' },
        io({ ...env, AUDITRAIL_DB: 'b.db', AUDITRAIL_POSTGRES: 'postgres://db/x' }),
      ).db,
      '/work/app/a.db',
    );
  });
});
