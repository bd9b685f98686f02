import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The PostgreSQL every test that needs one uses: `$AUDITRAIL_TEST_POSTGRES`, or the local server
 * (127.0.0.1:5432, trust auth, database `test`). Each test run works in schemas (or databases)
 * of its own, named with a random suffix, and drops them after.
 */
export const PG_URL = process.env['AUDITRAIL_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/test';

let checked: Promise<string | undefined> | undefined;

/**
 * Why PostgreSQL tests cannot run here (undefined: they can). The reason is printed; under CI
 * (`CI=true`) an unreachable server is a failure, never a skip.
 */
export function postgresSkipReason(): Promise<string | undefined> {
  checked ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (e) {
      const reason = `PostgreSQL is not reachable at ${new URL(PG_URL).host} (${(e as Error).message}); set AUDITRAIL_TEST_POSTGRES or start it`;
      if (process.env['CI'] === 'true') throw new Error(`CI=true and ${reason}`);
      process.stdout.write(`# skipped: ${reason}\n`);
      return reason;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return checked;
}

/** A fresh schema name for one test: `prefix_<random>`. */
export function schemaName(prefix = 'at'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** A fresh database name for one test: `prefix_<random>`. */
export const databaseName = schemaName;

/** Runs SQL on the test database as the superuser (dropping schemas, triggers, databases). */
export async function adminQuery(sql: string, args: unknown[] = [], url = PG_URL): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, args);
  } finally {
    await client.end();
  }
}

/** Drops schemas made by {@link schemaName} (and everything in them). */
export async function dropSchemas(names: readonly string[]): Promise<void> {
  for (const n of names) await adminQuery(`DROP SCHEMA IF EXISTS ${n} CASCADE`);
}

/** The URL of another database on the same server. */
export function databaseUrl(db: string): string {
  const u = new URL(PG_URL);
  u.pathname = `/${db}`;
  return u.toString();
}

/** A database location a test can hand to `openAuditTrail({ db })` or the CLI's `--db`/`--postgres`. */
export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Why this backend's cases are skipped here (printed), or undefined. */
  skip: string | undefined;
  /** A fresh, empty location: a file path under `dir`, or the test server with a new schema. */
  location(dir: string): string;
  /** Drops what {@link location} made on a server (files go with their directory). */
  cleanup(): Promise<void>;
}

/** The backends every parametrised integration test runs on: SQLite, and PostgreSQL when reachable. */
export async function backends(): Promise<Backend[]> {
  const skip = await postgresSkipReason();
  const made: string[] = [];
  return [
    {
      name: 'sqlite',
      skip: undefined,
      location: (dir) => `${dir}/audit-${randomBytes(4).toString('hex')}.db`,
      cleanup: () => Promise.resolve(),
    },
    {
      name: 'postgres',
      skip,
      location: () => {
        const s = schemaName('it');
        made.push(s);
        const u = new URL(PG_URL);
        u.searchParams.set('schema', s);
        return u.toString();
      },
      cleanup: () => (skip === undefined ? dropSchemas(made.splice(0)) : Promise.resolve()),
    },
  ];
}
