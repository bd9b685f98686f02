// Erasure by subject when part of the log is archived: the hot database cannot reach the archived
// rows, so the erasure is refused, naming each archive, unless every archive is searched and holds
// nothing about the subject; when one does, the printed fix (restore, erase, archive) works pasted.
import assert from 'node:assert/strict';
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  archiveLog,
  archivedRanges,
  ArchivedDataError,
  AuditError,
  openAuditTrail,
  type AuditEvent,
  type AuditTrail,
} from '../../src/index.js';
import { argvOf, runCli, sampleEvent, tempDir } from './helpers.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');
const SUBJECT = 'cust-5512';

function aboutSubject(i: number): AuditEvent {
  return {
    type: 'context.accessed',
    session_id: 's-subject',
    actor: { type: 'agent', id: 'support-bot' },
    action: { type: 'read:customer', target: `customer/${i}` },
    context: { data_subject_ids: [SUBJECT], data_classification: 'pii', reasoning: 'address lookup' },
  };
}

/**
 * 20 events on day 0 then 10 on day 1, checkpoints at 20 and 30; the subject is named at seq 3
 * and 7 (day 0) when `archivedSubject`, and at seq 25 (day 1) always. Day 0 is archived to `cold`.
 */
async function fixture(archivedSubject: boolean): Promise<{
  dir: string;
  db: string;
  cold: string;
  trail: AuditTrail;
  archive: { by_seq: number; manifest_sha256: string };
}> {
  const dir = tempDir('auditrail-erase-archive-');
  const db = join(dir, 'audit.db');
  let clock = T0;
  const trail = await openAuditTrail({ tenant: 'acme', db, now: () => clock, checkpointIntervalMs: 0 });
  for (let i = 0; i < 30; i++) {
    if (i === 20) clock = T0 + DAY;
    const subject = i === 25 || (archivedSubject && (i === 3 || i === 7));
    await trail.record(subject ? aboutSubject(i) : sampleEvent(i));
    if (i === 19 || i === 29) await trail.checkpoint();
  }
  const cold = join(dir, 'cold');
  const r = await archiveLog(trail, { before: new Date(T0 + DAY / 2), dir: cold });
  assert.deepEqual([r.from, r.to], [0, 20]);
  return { dir, db, cold, trail, archive: { by_seq: r.by_seq, manifest_sha256: r.manifest_sha256 } };
}

const cli = (args: string[], cwd: string) => runCli(args, { cwd, columns: 100 });

const request = { reason: 'DSR-2026-31', requestedBy: 'dpo@acme' };

describe('erasure by subject with archived ranges', () => {
  it('is refused, nothing written, naming the archive (seq, range, manifest SHA-256), in a dry run too', async () => {
    const { trail, archive, cold } = await fixture(true);
    try {
      const size = (await trail.verify()).size;
      for (const dryRun of [false, true]) {
        await assert.rejects(trail.erase({ subject: SUBJECT }, { ...request, dryRun }), (e: unknown) => {
          assert.ok(e instanceof ArchivedDataError);
          assert.equal(e.code, 'conflict');
          assert.match(e.message, /nothing was erased/);
          assert.match(e.message, new RegExp(`archive.created at seq ${archive.by_seq}: seq 0\\.\\.19`));
          assert.ok(e.message.includes(archive.manifest_sha256));
          assert.match(e.message, /not searched/);
          assert.match(e.message, /auditrail restore DIR/);
          assert.deepEqual(
            e.archives.map((a) => [a.by_seq, a.from, a.to, a.dir, a.seqs]),
            [[archive.by_seq, 0, 20, null, null]],
          );
          return true;
        });
      }
      // Searched, the archive holds the subject at seq 3 and 7: refused again, naming them.
      await assert.rejects(
        trail.erase({ subject: SUBJECT }, { ...request, archives: [cold] }),
        (e: unknown) =>
          e instanceof ArchivedDataError &&
          /2 archived events concern the subject \(seq 3, 7\)/.test(e.message) &&
          e.archives[0]?.dir === cold,
      );
      // Nothing was written, and the hot event about the subject is intact.
      assert.equal((await trail.verify()).size, size);
      assert.deepEqual((await trail.get(25))?.context?.data_subject_ids, [SUBJECT]);
      // A directory that is not an archive of this log now is named as such.
      const other = await fixture(false);
      await other.trail.close();
      await assert.rejects(
        trail.erase({ subject: SUBJECT }, { ...request, archives: [other.cold] }),
        (e: unknown) =>
          e instanceof AuditError &&
          e.code === 'invalid_argument' &&
          /is not an archived range of/.test(e.message),
      );
    } finally {
      await trail.close();
    }
  });

  it('proceeds when every archive is given and holds nothing about the subject, and says so', async () => {
    const { trail, cold, archive } = await fixture(false);
    try {
      await assert.rejects(trail.erase({ subject: SUBJECT }, request), ArchivedDataError);
      const dry = await trail.erase({ subject: SUBJECT }, { ...request, dryRun: true, archives: [cold] });
      assert.equal(dry.seq, null);
      assert.ok(dry.erased.length > 0);
      assert.deepEqual([...new Set(dry.erased.map((x) => x.seq))], [25]);
      const r = await trail.erase({ subject: SUBJECT }, { ...request, archives: [cold] });
      assert.ok(r.seq !== null);
      assert.equal(r.events, 1);
      assert.deepEqual(r.archives_searched, [
        { by_seq: archive.by_seq, from: 0, to: 20, manifest_sha256: archive.manifest_sha256, dir: cold },
      ]);
      assert.equal((await trail.get(25))?.context?.data_subject_ids, undefined);
      assert.equal((await trail.verify()).ok, true);
    } finally {
      await trail.close();
    }
  });

  it('prints a fix (restore, erase, archive) whose commands work when pasted', async () => {
    const { dir, trail } = await fixture(true);
    await trail.close();
    const target = ['--db', 'audit.db', '--tenant', 'acme'];
    const plain = await cli(['erase', '--subject', SUBJECT, '--reason', 'DSR 31', ...target], dir);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /not searched \(written to \/.*\/cold; give its directory/);
    // The first fix printed searches the archive where `archive` wrote it.
    const search = plain.stderr.split('\n').filter((l) => /^ {2}(npx )?auditrail /.test(l));
    assert.equal(search.length, 1, plain.stderr);
    assert.match(
      search[0]!,
      /auditrail erase --subject cust-5512 --reason 'DSR 31' --by operator --archive cold --db audit.db --tenant acme$/,
    );
    const searched = await cli(argvOf(search[0]!.trim()), dir);

    const dry = await cli(
      ['erase', '--subject', SUBJECT, '--reason', 'DSR 31', '--archive', 'cold', '--dry-run', ...target],
      dir,
    );
    assert.equal(dry.code, 1);
    assert.match(dry.stderr, /seq 3, 7/);
    const refused = await cli(
      ['erase', '--subject', SUBJECT, '--reason', 'DSR 31', '--archive', 'cold', ...target],
      dir,
    );
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, dry.stderr, 'a dry run prints the same refusal');
    assert.equal(searched.stderr, refused.stderr, 'the pasted search finds what --archive finds');
    const hint = refused.stderr.split('\n').filter((l) => /^ {2}(npx )?auditrail /.test(l));
    assert.equal(hint.length, 3, refused.stderr);
    assert.match(hint[0]!, /auditrail restore cold --db audit.db --tenant acme$/);
    assert.match(
      hint[1]!,
      /auditrail erase --subject cust-5512 --reason 'DSR 31' --by operator --db audit.db --tenant acme$/,
    );
    assert.match(
      hint[2]!,
      /auditrail archive --before 2026-03-01T00:00:00.001Z -o cold-erased --db audit.db --tenant acme$/,
    );
    for (const line of hint) {
      const r = await cli(argvOf(line.trim()), dir);
      assert.equal(r.code, 0, `${line}\n${r.stdout}${r.stderr}`);
    }

    // The subject is erased everywhere, day 0 is archived again, and the log verifies.
    const after = await openAuditTrail({ tenant: 'acme', db: join(dir, 'audit.db') });
    try {
      const report = await after.verify();
      assert.equal(report.ok, true, JSON.stringify(report.failures.slice(0, 3)));
      assert.deepEqual(
        (report.archived ?? []).map((a) => [a.from, a.to]),
        [[0, 20]],
      );
      assert.equal((await after.get(25))?.context?.data_subject_ids, undefined);
    } finally {
      await after.close();
    }
    const again = await cli(
      ['erase', '--subject', SUBJECT, '--reason', 'DSR 31', '--archive', 'cold-erased', ...target],
      dir,
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /searched archive cold-erased .*nothing about cust-5512/);
    assert.match(again.stdout, /nothing held about cust-5512/);
    const verified = await cli(['verify', '--archive', 'cold-erased', ...target], dir);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });

  it('records where the archive was written; the printed search works pasted, or says the directory is gone', async () => {
    const { dir, trail, cold } = await fixture(false);
    try {
      const ranges = await archivedRanges(trail);
      assert.deepEqual(
        ranges.map((r) => [r.from, r.to, r.location]),
        [[0, 20, cold]],
      );
      await assert.rejects(
        trail.erase({ subject: SUBJECT }, request),
        (e: unknown) =>
          e instanceof ArchivedDataError &&
          e.archives[0]?.location === cold &&
          e.archives[0].location_exists &&
          e.message.includes(`not searched (written to ${cold}; give its directory to search it)`),
      );
    } finally {
      await trail.close();
    }
    const target = ['--db', 'audit.db', '--tenant', 'acme'];
    // Moved away: said plainly, with no command that would fail.
    renameSync(cold, join(dir, 'moved'));
    const gone = await cli(['erase', '--subject', SUBJECT, '--reason', 'DSR 31', ...target], dir);
    assert.equal(gone.code, 1);
    assert.ok(
      gone.stderr.includes(
        `was written to ${cold}, which no longer holds it: give where it is now with --archive DIR`,
      ),
      gone.stderr,
    );
    assert.equal(gone.stderr.split('\n').filter((l) => /^ {2}(npx )?auditrail /.test(l)).length, 0);
    renameSync(join(dir, 'moved'), cold);
    // In place: the printed command, pasted as is, searches it and erases (a dry run stays one).
    for (const dryRun of [true, false]) {
      const extra = dryRun ? ['--dry-run'] : [];
      const refused = await cli(
        ['erase', '--subject', SUBJECT, '--reason', 'DSR 31', ...extra, ...target],
        dir,
      );
      assert.equal(refused.code, 1);
      const hint = refused.stderr.split('\n').filter((l) => /^ {2}(npx )?auditrail /.test(l));
      assert.equal(hint.length, 1, refused.stderr);
      assert.match(
        hint[0]!,
        dryRun ? /--archive cold --dry-run --db audit.db/ : /--archive cold --db audit.db/,
      );
      const pasted = await cli(argvOf(hint[0]!.trim()), dir);
      assert.equal(pasted.code, 0, pasted.stderr);
      assert.match(pasted.stdout, /searched archive cold .*nothing about cust-5512/);
      assert.match(
        pasted.stdout,
        dryRun ? /would erase .* \(dry run, nothing written\)/ : /recorded as data\.erased at seq/,
      );
    }
  });
});

describe('an archive whose directory is not recorded', () => {
  it('(redaction would rewrite it, or an older version made it) is named as such, with no command to paste', async () => {
    const dir = tempDir('auditrail-erase-unrecorded-');
    let clock = T0;
    const trail = await openAuditTrail({
      tenant: 'acme',
      db: join(dir, 'audit.db'),
      now: () => clock,
      checkpointIntervalMs: 0,
      redaction: { extraPatterns: [{ name: 'cold-path', pattern: /cold-[a-z]+/ }] },
    });
    try {
      for (let i = 0; i < 20; i++) await trail.record(sampleEvent(i));
      await trail.checkpoint();
      clock = T0 + DAY;
      await trail.record(aboutSubject(25));
      await trail.checkpoint();
      await archiveLog(trail, { before: new Date(T0 + DAY / 2), dir: join(dir, 'cold-store') });
      assert.deepEqual(
        (await archivedRanges(trail)).map((r) => [r.from, r.to, r.location]),
        [[0, 20, null]],
      );
      assert.equal((await trail.verify()).ok, true);
    } finally {
      await trail.close();
    }
    const r = await cli(
      ['erase', '--subject', SUBJECT, '--reason', 'DSR 31', '--db', 'audit.db', '--tenant', 'acme'],
      dir,
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /not searched \(its directory was not recorded; give its directory to search it\)/,
    );
    assert.match(r.stderr, /did not record its directory: give it with --archive DIR/);
    assert.equal(r.stderr.split('\n').filter((l) => /^ {2}(npx )?auditrail /.test(l)).length, 0);
    const given = await cli(
      [
        'erase',
        '--subject',
        SUBJECT,
        '--reason',
        'DSR 31',
        '--archive',
        'cold-store',
        '--db',
        'audit.db',
        '--tenant',
        'acme',
      ],
      dir,
    );
    assert.equal(given.code, 0, given.stderr);
  });
});

describe('erasure by seqs or pointers inside an archived range', () => {
  it('is refused naming the archive unless it is searched and holds no plaintext named', async () => {
    const { trail, cold, archive } = await fixture(true);
    try {
      const size = (await trail.verify()).size;
      for (const target of [{ seqs: [3] }, { pointers: [{ seq: 3, pointer: '' }] }, { seqs: [3, 25] }]) {
        await assert.rejects(trail.erase(target, request), (e: unknown) => {
          assert.ok(e instanceof ArchivedDataError, String(e));
          assert.match(e.message, /nothing was erased/);
          assert.match(e.message, new RegExp(`archive.created at seq ${archive.by_seq}: seq 0\\.\\.19`));
          assert.match(e.message, /not searched \(written to /);
          assert.deepEqual(
            e.archives.map((a) => [a.by_seq, a.dir, a.seqs, a.location]),
            [[archive.by_seq, null, null, cold]],
          );
          return true;
        });
      }
      // Searched: the archive holds the plaintext of seq 3 (and of 7, which is not named).
      await assert.rejects(
        trail.erase({ seqs: [3] }, { ...request, dryRun: true, archives: [cold] }),
        (e: unknown) =>
          e instanceof ArchivedDataError &&
          /1 archived event concern the request \(seq 3\)/.test(e.message) &&
          e.archives[0]?.dir === cold &&
          JSON.stringify(e.archives[0].seqs) === '[3]',
      );
      // A pointer the archived event does not hold: the search finds nothing to erase there.
      const none = await trail.erase(
        { pointers: [{ seq: 3, pointer: '/nope' }] },
        { ...request, archives: [cold] },
      );
      assert.deepEqual([none.seq, none.erased, none.archives_searched.map((a) => a.dir)], [null, [], [cold]]);
      assert.equal((await trail.verify()).size, size, 'nothing written');
      // A seq after the archived range is erased as before, with no archive to search.
      const hot = await trail.erase({ seqs: [25] }, request);
      assert.ok(hot.seq !== null);
      assert.deepEqual(hot.archives_searched, []);
      assert.deepEqual([...new Set(hot.erased.map((x) => x.seq))], [25]);
      assert.equal((await trail.verify()).ok, true);
    } finally {
      await trail.close();
    }
  });

  it('proceeds, erasing nothing archived, when the named event was erased before it was archived', async () => {
    const dir = tempDir('auditrail-erase-seqs-archive-');
    let clock = T0;
    const trail = await openAuditTrail({
      tenant: 'acme',
      db: join(dir, 'audit.db'),
      now: () => clock,
      checkpointIntervalMs: 0,
    });
    try {
      for (let i = 0; i < 20; i++) await trail.record(sampleEvent(i));
      await trail.checkpoint();
      clock = T0 + DAY;
      const early = await trail.erase({ seqs: [5] }, request);
      assert.ok(early.seq !== null);
      await trail.checkpoint();
      const cold = join(dir, 'cold');
      const r = await archiveLog(trail, { before: new Date(T0 + DAY / 2), dir: cold });
      assert.deepEqual([r.from, r.to], [0, 20]);
      await assert.rejects(trail.erase({ seqs: [5] }, request), ArchivedDataError);
      const again = await trail.erase({ seqs: [5] }, { ...request, archives: [cold] });
      assert.deepEqual([again.seq, again.erased], [null, []]);
      assert.deepEqual(
        again.archives_searched.map((a) => [a.from, a.to, a.dir]),
        [[0, 20, cold]],
      );
    } finally {
      await trail.close();
    }
  });
});
