/**
 * The evidence package's archive: a gzip-compressed POSIX tar (through `tar-stream`) of plain files,
 * in a fixed order, with fixed modes and times so the same files give the same bytes.
 */
import { createGunzip, createGzip } from 'node:zlib';
import { extract, pack } from 'tar-stream';
import { AuditError } from '../errors.js';

/** An archive larger than this when unpacked is refused (an auditor's machine is not a zip bomb target). */
const MAX_UNPACKED = 4 * 1024 * 1024 * 1024 - 1;
const MAX_FILES = 100_000;

/**
 * Packs `files` (name → bytes) into a .tar.gz.
 *
 * @example
 * writeFileSync('q4.evidence.tar.gz', await packArchive(new Map([['manifest.json', bytes]])));
 */
export async function packArchive(
  files: ReadonlyMap<string, Uint8Array>,
  mtime = new Date(0),
): Promise<Buffer> {
  const p = pack();
  // Compressed as the tar is produced (zlib works on its own thread): no copy of the whole tar.
  const gz = createGzip();
  const chunks: Buffer[] = [];
  gz.on('data', (c: Buffer) => {
    chunks.push(c);
  });
  const ended = new Promise<void>((resolve, reject) => {
    gz.on('end', resolve);
    gz.on('error', reject);
    p.on('error', reject);
  });
  p.pipe(gz);
  for (const [name, bytes] of files) {
    const view = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    await new Promise<void>((resolve, reject) => {
      p.entry({ name, size: view.length, mode: 0o644, mtime, type: 'file' }, view, (e) =>
        e ? reject(e) : resolve(),
      );
    });
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/**
 * Unpacks a .tar.gz into name → bytes, refusing anything but plain files with safe relative names.
 * Throws AuditError('invalid_argument') for an archive that is not one.
 *
 * @example
 * const files = await unpackArchive(readFileSync('q4.evidence.tar.gz'));
 */
export async function unpackArchive(archive: Uint8Array): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const x = extract();
  const done = new Promise<void>((resolve, reject) => {
    x.on('entry', (header, stream, next) => {
      const name = header.name;
      const bad =
        header.type !== 'file' ||
        name.startsWith('/') ||
        name.split('/').some((p) => p === '..' || p === '' || p === '.') ||
        files.has(name) ||
        files.size >= MAX_FILES;
      if (bad) {
        stream.resume();
        reject(
          new AuditError(
            'invalid_argument',
            `the archive holds an entry that is not a plain file with a unique relative name: ${JSON.stringify(name)}`,
          ),
        );
        return;
      }
      const parts: Buffer[] = [];
      stream.on('data', (c: unknown) => {
        parts.push(c as Buffer);
      });
      stream.on('end', () => {
        files.set(name, Buffer.concat(parts));
        next();
      });
      stream.on('error', reject);
    });
    x.on('finish', resolve);
    x.on('error', (e: Error) =>
      reject(new AuditError('invalid_argument', `not a tar archive: ${e.message}`, { cause: e })),
    );
  });
  // Decompressed as the tar is read (no copy of the whole tar), with a bound on its size.
  const gunzip = createGunzip();
  let unpacked = 0;
  gunzip.on('data', (c: Buffer) => {
    unpacked += c.length;
    if (unpacked > MAX_UNPACKED) gunzip.destroy(new Error(`more than ${MAX_UNPACKED} bytes unpacked`));
  });
  const gunzipped = new Promise<void>((resolve, reject) => {
    gunzip.on('end', resolve);
    gunzip.on('error', (e: Error) =>
      reject(new AuditError('invalid_argument', `not a gzip archive: ${e.message}`, { cause: e })),
    );
  });
  gunzip.pipe(x);
  gunzip.end(archive);
  await Promise.all([gunzipped, done]);
  return files;
}
