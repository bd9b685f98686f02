import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AuditError } from '../errors.js';
import { dropRanges, readArchiveManifest } from './archive.js';

describe('dropRanges', () => {
  it('cuts [from, to) around the kept seqs, in steps of at most 65,536 entries', () => {
    assert.deepEqual(dropRanges(0, 10, []), [[0, 10]]);
    assert.deepEqual(dropRanges(0, 10, [3, 7]), [
      [0, 3],
      [4, 7],
      [8, 10],
    ]);
    assert.deepEqual(dropRanges(5, 10, [5, 9, 42, 1]), [[6, 9]]);
    assert.deepEqual(dropRanges(0, 3, [0, 1, 2]), []);
    assert.deepEqual(dropRanges(0, 150_000, [70_000]), [
      [0, 65_536],
      [65_536, 70_000],
      [70_001, 135_537],
      [135_537, 150_000],
    ]);
  });
});

describe('readArchiveManifest', () => {
  const dir = mkdtempSync(join(tmpdir(), 'auditrail-manifest-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const refuses = (text: string, pattern: RegExp): void => {
    writeFileSync(join(dir, 'manifest.json'), text);
    assert.throws(
      () => readArchiveManifest(dir),
      (e: unknown) => e instanceof AuditError && e.code === 'invalid_argument' && pattern.test(e.message),
    );
  };
  const good = {
    format: 'auditrail-archive/v1',
    log: 'auditrail.local/t/acme/default',
    range: { from: 0, to: 4 },
    checkpoint: 'x',
    current_checkpoint: 'y',
    consistency: [],
    compression: 'SNAPPY',
    created_at: '2026-01-01T00:00:00Z',
    files: [
      {
        name: 'events-000000000000-000000000004.parquet',
        kind: 'events',
        from: 0,
        to: 4,
        rows: 4,
        bytes: 1,
        sha256: 'a',
      },
    ],
  };

  it('names what is wrong with a manifest it did not write', () => {
    refuses('not json', /is not JSON/);
    refuses('', /empty or larger than 16 MiB/);
    refuses(JSON.stringify({ ...good, format: 'other' }), /wrong or missing "format"/);
    refuses(JSON.stringify({ ...good, range: { from: 4, to: 4 } }), /bad "range"/);
    refuses(
      JSON.stringify({ ...good, files: [{ ...good.files[0], name: '../../etc/passwd' }] }),
      /file entry/,
    );
  });

  it('reads a well-formed manifest and its SHA-256', () => {
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(good));
    const m = readArchiveManifest(dir);
    assert.equal(m.manifest.range.to, 4);
    assert.match(m.sha256, /^[0-9a-f]{64}$/);
  });

  it('a missing manifest is not_found', () => {
    assert.throws(
      () => readArchiveManifest(join(dir, 'nope')),
      (e: unknown) => e instanceof AuditError && e.code === 'not_found',
    );
  });
});
