// Profiles building and verifying an evidence package of the cached evidence log:
// node --cpu-prof --import tsx bench/profile-evidence.ts <audit.db> <out.tar.gz> [build|verify]
import { readFileSync } from 'node:fs';
import { openAuditTrail } from '../src/index.js';
import { verifyEvidence, writeEvidence, buildEvidence } from '../src/report/evidence.js';
import { packArchive, unpackArchive } from '../src/report/archive.js';
import { verifyEvidenceFiles } from '../src/index.js';
import { LARGE_LOG_TENANT } from './fixtures/large-log.js';

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
let c0 = cpu();
const lap = (label: string, t: number): void => {
  const c = cpu();
  console.log(label, ((performance.now() - t) / 1000).toFixed(2), 's wall', (c - c0).toFixed(2), 's cpu');
  c0 = c;
};
const [db, out, what = 'both'] = process.argv.slice(2) as [string, string, string?];
const trail = await openAuditTrail({ tenant: LARGE_LOG_TENANT, db, readonly: true });
const vkey = trail.verifierKey();
if (what !== 'verify') {
  c0 = cpu();
  let t = performance.now();
  const built = await buildEvidence(trail, {});
  lap('build files', t);
  t = performance.now();
  await packArchive(built.files);
  lap('pack', t);
  t = performance.now();
  await writeEvidence(trail, out, {});
  lap('writeEvidence', t);
}
await trail.close();
if (what !== 'build') {
  const bytes = readFileSync(out);
  c0 = cpu();
  let t = performance.now();
  const files = await unpackArchive(bytes);
  lap('unpack', t);
  t = performance.now();
  const r = verifyEvidenceFiles(files, { trustedKey: vkey });
  lap(`verify files (ok: ${String(r.ok)})`, t);
  t = performance.now();
  await verifyEvidence(bytes, { trustedKey: vkey });
  lap('verifyEvidence', t);
}
