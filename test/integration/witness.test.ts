// The C2SP witness (docs/keys.md) against real SQLite logs: it cosigns a growing log, refuses a
// log restored from an older copy (rolled back) and a log rewritten from that copy (forked), keeps
// both checkpoints as evidence, and verify --witness-key catches both. Through the SDK, the CLI
// and the HTTP endpoint of a real server on 127.0.0.1.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cosignatureTime, formatAddCheckpoint, parseCosignerKey } from '../../src/core/cosignature.js';
import { AuditError, cosignLatest, openAuditTrail, Witness, type AuditTrail } from '../../src/index.js';
import { buildServer } from '../../src/server/app.js';
import { runCli, sampleEvent, tempDir } from './helpers.js';

const SUFFIXES = ['', '-wal', '-shm'];

function backup(db: string, to: string): void {
  for (const s of SUFFIXES) if (existsSync(db + s)) copyFileSync(db + s, to + s);
}

function restore(from: string, db: string): void {
  for (const s of SUFFIXES) {
    rmSync(db + s, { force: true });
    if (existsSync(from + s)) copyFileSync(from + s, db + s);
  }
}

async function withTrail<T>(db: string, fn: (t: AuditTrail) => Promise<T>): Promise<T> {
  const t = await openAuditTrail({ db, tenant: 'acme' });
  try {
    return await fn(t);
  } finally {
    await t.close();
  }
}

async function grow(db: string, n: number, tag: string): Promise<void> {
  await withTrail(db, async (t) => {
    for (let i = 0; i < n; i++) await t.record(sampleEvent(i, `${tag}-${i}`));
    await t.checkpoint();
  });
}

async function cli(args: string[], db: string): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli(args, { env: { AUDITRAIL_DB: db, AUDITRAIL_TENANT: 'acme', NO_COLOR: '1' } });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

/** A log with a witness trusting it: the log's database, its backup path and the witness. */
async function setup(
  prefix: string,
): Promise<{ dir: string; db: string; copy: string; wdir: string; wkey: string }> {
  const dir = tempDir(prefix);
  const db = join(dir, 'audit.db');
  const wdir = join(dir, 'witness');
  const wkey = Witness.init(wdir, 'witness.test/w1');
  await grow(db, 10, 'a');
  await withTrail(db, (t) => Promise.resolve(Witness.open(wdir).trust(t.verifierKey())));
  return { dir, db, copy: join(dir, 'backup.db'), wdir, wkey };
}

describe('witness (SDK)', () => {
  it('cosigns a growing log; verify --witness-key wants the latest checkpoint cosigned', async () => {
    const { db, wdir, wkey } = await setup('auditrail-witness-grow-');
    const w = Witness.open(wdir);
    await withTrail(db, async (t) => {
      const { size, note } = await cosignLatest(t, (b) => w.addCheckpoint(b));
      assert.equal(size, 10);
      assert.ok(cosignatureTime(note, parseCosignerKey(wkey))! > 0);
      assert.deepEqual((await t.verify({ witnessKeys: [wkey] })).failures, []);
      for (let i = 0; i < 5; i++) await t.record(sampleEvent(i, 'b'));
      await t.checkpoint();
      const stale = await t.verify({ witnessKeys: [wkey] });
      assert.deepEqual(
        stale.failures.map((f) => [f.kind, f.seq]),
        [['not_witnessed', 15]],
      );
      // The second request carries a consistency proof from 10 to 15.
      assert.equal((await cosignLatest(t, (b) => w.addCheckpoint(b))).size, 15);
      assert.equal((await t.verify({ witnessKeys: [wkey] })).ok, true);
    });
    assert.match(w.latest('auditrail.local/t/acme/default')!, /^auditrail\.local\/t\/acme\/default\n15\n/);
  });

  it('refuses a rolled-back log and a forked log, keeps evidence, and verify catches both', async () => {
    const { db, copy, wdir, wkey } = await setup('auditrail-witness-fork-');
    const w = Witness.open(wdir);
    await withTrail(db, (t) => cosignLatest(t, (b) => w.addCheckpoint(b)));
    backup(db, copy); // size 10, cosigned
    await grow(db, 5, 'b');
    await withTrail(db, (t) => cosignLatest(t, (b) => w.addCheckpoint(b))); // size 15, cosigned

    // Rolled back: the size-10 copy comes back and grows to 12.
    restore(copy, db);
    await grow(db, 2, 'c');
    await withTrail(db, async (t) => {
      await assert.rejects(
        cosignLatest(t, (b) => w.addCheckpoint(b)),
        (e: unknown) => {
          assert.ok(e instanceof AuditError && e.code === 'conflict');
          assert.match(
            e.message,
            /cosigned size 15 .* latest checkpoint has size 12: the log was rolled back/,
          );
          return true;
        },
      );
      const report = await t.verify({ witnessKeys: [wkey] });
      assert.equal(report.ok, false);
      const kinds = report.failures.map((f) => f.kind);
      assert.deepEqual(kinds, ['rolled_back'], JSON.stringify(report.failures));
    });
    const rolled = w.evidence('auditrail.local/t/acme/default');
    assert.equal(rolled.length, 1);
    assert.match(rolled[0]!, /rolled-back/);
    const text = readFileSync(rolled[0]!, 'utf8');
    assert.match(text, /cosigned earlier by witness\.test\/w1\nauditrail\.local\/t\/acme\/default\n15\n/);
    assert.match(
      text,
      /add-checkpoint request refused\nold \d+\n[\s\S]*auditrail\.local\/t\/acme\/default\n12\n/,
    );

    // Forked: the size-10 copy grows to 15 with other events.
    restore(copy, db);
    await grow(db, 5, 'd');
    await withTrail(db, async (t) => {
      await assert.rejects(
        cosignLatest(t, (b) => w.addCheckpoint(b)),
        /cosigned another tree of size 15 \(the log forked\)/,
      );
      const report = await t.verify({ witnessKeys: [wkey] });
      assert.equal(report.ok, false);
      assert.ok(
        report.failures.some((f) => f.kind === 'rolled_back' && f.seq === 15),
        JSON.stringify(report.failures),
      );
    });
    const all = w.evidence('auditrail.local/t/acme/default');
    assert.equal(all.length, 2);
    assert.ok(all.some((p) => p.includes('forked')));
    assert.match(w.latest('auditrail.local/t/acme/default')!, /\n15\n/, 'the witness state never moved back');
  });
});

describe('witness (CLI)', () => {
  it('init, trust, cosign, verify --witness-key; a rolled-back log is refused with exit 1', async () => {
    const dir = tempDir('auditrail-witness-cli-');
    const db = join(dir, 'audit.db');
    const wdir = join(dir, 'w');
    await grow(db, 4, 'a');
    const init = await cli(['witness', 'init', '--dir', wdir, '--name', 'witness.test/cli'], db);
    assert.equal(init.code, 0, init.err);
    const wkey = init.out.trim();
    assert.equal((await cli(['witness', 'show', '--dir', wdir], db)).out.trim(), wkey);
    const vkey = (await cli(['keys', 'show'], db)).out.trim();
    const unknown = await cli(['witness', 'cosign', '--dir', wdir], db);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /witness trust --dir DIR/);
    assert.equal((await cli(['witness', 'trust', '--dir', wdir, vkey], db)).code, 0);
    const ok = await cli(['witness', 'cosign', '--dir', wdir], db);
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^— witness\.test\/cli /m);
    assert.equal((await cli(['verify', '--witness-key', wkey], db)).code, 0);
    const copy = join(dir, 'copy.db');
    backup(db, copy);
    await grow(db, 3, 'b');
    assert.equal((await cli(['witness', 'cosign', '--dir', wdir], db)).code, 0);
    restore(copy, db);
    await grow(db, 1, 'c');
    const refused = await cli(['witness', 'cosign', '--dir', wdir], db);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /rolled back/);
    assert.match(refused.err, /evidence kept: .*rolled-back/);
    const verified = await cli(['verify', '--witness-key', wkey], db);
    assert.equal(verified.code, 1);
    assert.match(verified.out, /rolled_back .*a checkpoint of size 7 was handed out/);
    const bad = await cli(['verify', '--witness-key', 'nonsense'], db);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--witness-key: not a witness key/);
  });
});

describe('witness (HTTP POST /add-checkpoint)', () => {
  it('answers with the C2SP status codes and refuses a rollback and a fork', async () => {
    const { dir, db, copy, wdir, wkey } = await setup('auditrail-witness-http-');
    const app = await buildServer({
      db: join(dir, 'server.db'),
      keyDir: join(dir, 'server-keys'),
      witnessDir: wdir,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const post = async (body: string): Promise<{ status: number; body: string; type: string }> => {
      const res = await fetch(`${base}/add-checkpoint`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'text/plain' },
      });
      return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
    };
    try {
      const note10 = await withTrail(db, async (t) => (await t.latestCheckpoint())!);
      const first = await post(formatAddCheckpoint(0, [], note10));
      assert.equal(first.status, 200, first.body);
      assert.ok(cosignatureTime(note10 + first.body, parseCosignerKey(wkey))! > 0);
      backup(db, copy);
      await grow(db, 5, 'b');
      const [note15, proof] = await withTrail(
        db,
        async (t) =>
          [
            (await t.latestCheckpoint())!,
            (await t.proveConsistency(10, 15)).map((h) => Buffer.from(h, 'base64')),
          ] as const,
      );
      const stale = await post(formatAddCheckpoint(0, [], note15));
      assert.equal(stale.status, 409);
      assert.equal(stale.body, '10\n');
      assert.match(stale.type, /^text\/x\.tlog\.size/);
      assert.equal((await post(formatAddCheckpoint(16, [], note15))).status, 400);
      const badProof = await post(
        formatAddCheckpoint(
          10,
          proof.map(() => Buffer.alloc(32, 7)),
          note15,
        ),
      );
      assert.equal(badProof.status, 422);
      assert.equal(
        (
          await post(
            formatAddCheckpoint(
              10,
              proof,
              note15.replace(
                /— (\S+) \S+/,
                '— $1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
              ),
            ),
          )
        ).status,
        403,
      );
      assert.equal(
        (
          await post(
            formatAddCheckpoint(
              0,
              [],
              note10.replace(/auditrail\.local\/t\/acme\/default/g, 'other.example/log'),
            ),
          )
        ).status,
        404,
      );
      assert.equal((await post('old x\n\nnot a checkpoint')).status, 400);
      assert.equal((await post(formatAddCheckpoint(10, proof, note15))).status, 200);

      // Rolled back to the size-10 copy, grown to 12: refused (409 says 15), evidence kept.
      restore(copy, db);
      await grow(db, 2, 'c');
      const note12 = await withTrail(db, async (t) => (await t.latestCheckpoint())!);
      const rolled = await post(formatAddCheckpoint(15, [], note12));
      assert.equal(rolled.status, 400, 'old size 15 is above the checkpoint size 12');
      const rolled409 = await post(formatAddCheckpoint(10, [], note12));
      assert.equal(rolled409.status, 409);
      assert.equal(rolled409.body, '15\n');
      // Forked: the copy grown to 15 with other events; same size, another root.
      restore(copy, db);
      await grow(db, 5, 'd');
      const fork15 = await withTrail(db, async (t) => (await t.latestCheckpoint())!);
      const forked = await post(formatAddCheckpoint(15, [], fork15));
      assert.equal(forked.status, 409);
      assert.equal(forked.body, '15\n');
      const evidence = Witness.open(wdir).evidence('auditrail.local/t/acme/default');
      assert.ok(evidence.some((p) => p.includes('rolled-back')));
      assert.ok(evidence.some((p) => p.includes('forked')));
      // The rest of the API still wants JSON and a key.
      assert.equal((await fetch(`${base}/v1/events`)).status, 401);
    } finally {
      await app.close();
    }
  });
});

describe('witness cosign --url (CLI against serve --witness)', () => {
  it('cosigns through the HTTP endpoint and verify --witness-key passes', async () => {
    const { dir, db, wdir, wkey } = await setup('auditrail-witness-url-');
    const app = await buildServer({
      db: join(dir, 'server.db'),
      keyDir: join(dir, 'server-keys'),
      witnessDir: wdir,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    try {
      const first = await cli(['witness', 'cosign', '--url', base], db);
      assert.equal(first.code, 0, first.err);
      await grow(db, 3, 'b');
      const second = await cli(['witness', 'cosign', '--url', base], db);
      assert.equal(second.code, 0, second.err);
      assert.match(second.err, /size 13 .* cosigned and kept/);
      const verified = await cli(['verify', '--witness-key', wkey], db);
      assert.equal(verified.code, 0, verified.out + verified.err);
    } finally {
      await app.close();
    }
  });
});
