// `auditrail verify-proof` on the worked example of docs/verification.md §9: the CLI agrees with the
// spec's strict decoding (no database involved).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../integration/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const example = JSON.parse(
  readFileSync(join(ROOT, 'test/vectors/auditrail/worked-example.json'), 'utf8'),
) as {
  bundle: { leaf: string; disclosures: string[] };
  trusted_key: string;
  event: unknown;
};
const dir = mkdtempSync(join(tmpdir(), 'auditrail-verify-proof-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) => runCli(args, { cwd: dir, columns: 100 });

describe('auditrail verify-proof on the worked example', () => {
  it('passes, printing the documented event', async () => {
    writeFileSync(join(dir, 'good.json'), JSON.stringify(example.bundle));
    const r = await run(['verify-proof', 'good.json', '--key', example.trusted_key]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.slice(r.stdout.indexOf('\n') + 1)), example.event);
  });

  it('fails (exit 1) on base64 a lenient decoder would accept', async () => {
    const leaf = example.bundle.leaf;
    writeFileSync(
      join(dir, 'spaced.json'),
      JSON.stringify({ ...example.bundle, leaf: `${leaf.slice(0, 40)}\n${leaf.slice(40)}` }),
    );
    const r = await run(['verify-proof', 'spaced.json', '--key', example.trusted_key]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /leaf is not canonical base64/);
  });

  it('fails (exit 1) on a file that is not valid UTF-8, instead of reading U+FFFD', async () => {
    const text = JSON.stringify({
      ...example.bundle,
      disclosures: [...example.bundle.disclosures, 'x\u00e9'],
    });
    const bytes = Buffer.from(text, 'utf8');
    const at = bytes.indexOf(Buffer.from('x\u00e9'));
    writeFileSync(
      join(dir, 'latin1.json'),
      Buffer.concat([bytes.subarray(0, at + 1), Buffer.of(0xe9), bytes.subarray(at + 3)]),
    );
    const r = await run(['verify-proof', 'latin1.json', '--key', example.trusted_key]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: latin1\.json is not UTF-8 text/);
  });
});
