import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openAuditTrail } from '../../src/index.js';
import { adminQuery, databaseName, databaseUrl, postgresSkipReason } from '../postgres.js';
import { sampleEvent, tempDir } from './helpers.js';

const skip = await postgresSkipReason();

describe(
  'a restored PostgreSQL backup (docs/scale-out.md "Backups and rollback")',
  { skip: skip ?? false },
  () => {
    const live = databaseName('backup_live');
    const backup = databaseName('backup_copy');
    after(async () => {
      await adminQuery(`DROP DATABASE IF EXISTS ${live} WITH (FORCE)`);
      await adminQuery(`DROP DATABASE IF EXISTS ${backup} WITH (FORCE)`);
    });

    it('is reported as rolled_back once a newer checkpoint was handed out', async () => {
      const keyDir = join(tempDir('auditrail-pg-backup-'), 'keys');
      const postgres = databaseUrl(live);
      await adminQuery(`CREATE DATABASE ${live}`);
      const open = () => openAuditTrail({ tenant: 'acme', postgres, keyDir, checkpointIntervalMs: 0 });
      const trail = await open();
      for (let i = 0; i < 20; i++) await trail.record(sampleEvent(i));
      await trail.checkpoint();
      await trail.close();
      // The backup: a copy of the whole database at size 20.
      await adminQuery(`CREATE DATABASE ${backup} TEMPLATE ${live}`);
      const again = await open();
      for (let i = 20; i < 30; i++) await again.record(sampleEvent(i));
      await again.checkpoint(); // handed out: the witness state now holds size 30
      assert.equal((await again.verify()).ok, true);
      await again.close();
      // Disaster recovery: the backup restored under the same name.
      await adminQuery(`DROP DATABASE ${live} WITH (FORCE)`);
      await adminQuery(`CREATE DATABASE ${live} TEMPLATE ${backup}`);
      const restored = await openAuditTrail({ tenant: 'acme', postgres, keyDir, readonly: true });
      try {
        const r = await restored.verify();
        assert.equal(r.ok, false);
        assert.ok(
          r.failures.some((f) => f.kind === 'rolled_back' && f.seq === 20),
          JSON.stringify(r.failures),
        );
      } finally {
        await restored.close();
      }
    });
  },
);
