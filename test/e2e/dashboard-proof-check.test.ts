// The dashboard's in-browser proof checker (src/server/dashboard/client/verify-proof.ts), run in
// Node on bundles written by `auditrail prove` and on the worked example of docs/verification.md
// §9: it accepts them against the pinned key and names the kind of each tampering.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  checkProofBundle,
  keyFingerprint,
  parsePinnedKey,
} from '../../src/server/dashboard/client/verify-proof.js';
import { verifyProofBundle } from '../../src/core/proof-bundle.js';
import { runCli } from '../integration/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'auditrail-proof-check-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[]): Promise<string> {
  const { code, stdout, stderr } = await runCli(args, { cwd: dir, columns: 100 });
  assert.equal(code, 0, `auditrail ${args.join(' ')}: ${stderr}`);
  return stdout;
}

interface Bundle {
  log: string;
  seq: number;
  leaf: string;
  disclosures: string[];
  inclusion: { tree_size: number; proof: string[] };
  checkpoint: string;
  verifier_key: string;
}

/** Flips one bit of a base64 text's decoded bytes, keeping it canonical base64. */
function flip(b64: string, byte = 0): string {
  const b = Buffer.from(b64, 'base64');
  b[byte] = b[byte]! ^ 1;
  return b.toString('base64');
}

describe('client proof checker on bundles from `auditrail prove`', () => {
  const db = join(dir, 'audit.db');
  const bundles: Bundle[] = [];
  let vkey = '';
  before(async () => {
    await cli(['demo', '--db', db]);
    vkey = (await cli(['keys', 'show', '--db', db])).trim();
    for (const seq of [0, 3, 10])
      bundles.push(JSON.parse(await cli(['prove', String(seq), '--db', db])) as Bundle);
  });

  it('accepts each bundle against the pinned key, listing every check, and agrees with the reference', async () => {
    for (const b of bundles) {
      const r = await checkProofBundle(b, vkey);
      assert.equal(r.ok, true, JSON.stringify(r.failures));
      assert.deepEqual(
        r.checks.map((c) => c.name),
        [
          'Bundle format',
          'Pinned key',
          'Checkpoint signature',
          'Checkpoint size',
          'Leaf record',
          'Inclusion proof',
          'Disclosures',
        ],
      );
      assert.ok(r.checks.every((c) => c.ok));
      assert.deepEqual(r.event, verifyProofBundle(b, { trustedKey: vkey }).event);
      assert.equal(r.event?.['event_id'] !== undefined, true);
    }
  });

  it('parses the pinned key and gives its fingerprint; refuses a key whose id does not match', async () => {
    const k = await parsePinnedKey(vkey);
    assert.equal(k.name, 'auditrail.local/t/demo/default');
    assert.match(await keyFingerprint(k), /^([0-9a-f]{2}:){31}[0-9a-f]{2}$/);
    const [name, id, key] = [
      vkey.slice(0, vkey.indexOf('+')),
      vkey.split('+')[1]!,
      vkey.slice(vkey.indexOf('+', vkey.indexOf('+') + 1) + 1),
    ];
    const wrongId = `${name}+${id === '00000000' ? '00000001' : '00000000'}+${key}`;
    await assert.rejects(parsePinnedKey(wrongId), /key id does not match/);
    await assert.rejects(parsePinnedKey('not a key'), /NAME\+KEYID\+KEY/);
  });

  const cases: [string, (b: Bundle) => Bundle, string][] = [
    [
      'a changed disclosure',
      (b) => ({ ...b, disclosures: b.disclosures.map((d, i) => (i === 0 ? d.replace('"', '"x') : d)) }),
      'disclosure',
    ],
    [
      'a changed proof hash',
      (b) => ({
        ...b,
        inclusion: { ...b.inclusion, proof: b.inclusion.proof.map((p, i) => (i === 0 ? flip(p) : p)) },
      }),
      'inclusion',
    ],
    ['a changed leaf', (b) => ({ ...b, leaf: flip(b.leaf, 0) }), 'leaf'],
    [
      'a changed checkpoint root',
      (b) => {
        const lines = b.checkpoint.split('\n');
        lines[2] = flip(lines[2]!);
        return { ...b, checkpoint: lines.join('\n') };
      },
      'signature',
    ],
    [
      'a changed signature',
      (b) => {
        const at = b.checkpoint.lastIndexOf(' ') + 1;
        return { ...b, checkpoint: b.checkpoint.slice(0, at) + flip(b.checkpoint.slice(at, -1), 10) + '\n' };
      },
      'signature',
    ],
    ['another seq claimed', (b) => ({ ...b, seq: b.seq + 1 }), 'leaf'],
    ['not a bundle', () => ({ format: 'other' }) as unknown as Bundle, 'format'],
  ];
  for (const [what, tamper, kind] of cases) {
    it(`fails on ${what}, with kind ${kind}, as the reference verifier does`, async () => {
      const b = tamper(structuredClone(bundles[1]!));
      const r = await checkProofBundle(b, vkey);
      assert.equal(r.ok, false);
      assert.ok(
        r.failures.some((f) => f.kind === kind),
        JSON.stringify(r.failures),
      );
      assert.equal(verifyProofBundle(b, { trustedKey: vkey }).ok, false);
    });
  }

  it('fails with key_mismatch when the bundle names another key than the pinned one', async () => {
    // The signing key lives beside the database: another directory, another key.
    const other = join(mkdtempSync(join(dir, 'other-')), 'audit.db');
    await cli(['demo', '--db', other]);
    const otherKey = (await cli(['keys', 'show', '--db', other])).trim();
    assert.notEqual(otherKey, vkey);
    const r = await checkProofBundle(bundles[0], otherKey);
    assert.equal(r.ok, false);
    assert.deepEqual([...new Set(r.failures.map((f) => f.kind))], ['key_mismatch', 'signature']);
  });
});

describe('client proof checker on the worked example (docs/verification.md §9)', () => {
  const example = JSON.parse(
    readFileSync(join(ROOT, 'test/vectors/auditrail/worked-example.json'), 'utf8'),
  ) as {
    bundle: Bundle;
    trusted_key: string;
    event: unknown;
  };
  it('reassembles the documented event', async () => {
    const r = await checkProofBundle(example.bundle, example.trusted_key);
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.deepEqual(r.event, example.event);
  });
  it('refuses base64 that a lenient decoder would accept', async () => {
    const leaf = example.bundle.leaf;
    const r = await checkProofBundle(
      { ...example.bundle, leaf: `${leaf.slice(0, 40)}\n${leaf.slice(40)}` },
      example.trusted_key,
    );
    assert.deepEqual(
      r.failures.map((f) => f.kind),
      ['leaf'],
    );
  });
});
