import { buildServer, parseScopes } from '../../server/index.js';
import { bool, execute, EXIT_OK, str, TARGET_OPTIONS, UsageError, type CommandSpec } from '../args.js';
import { renderTable, outputWidth, colors } from '../format.js';
import type { Io } from '../io.js';
import { resolveTarget } from '../target.js';

export const spec: CommandSpec = {
  name: 'apikeys',
  usage:
    'apikeys create --tenant ID --name NAME --scope LIST | apikeys list [--tenant ID] [--json] | apikeys revoke KEY_ID',
  summary: 'Create, list and revoke the API keys of `auditrail serve` (works on the database directly).',
  description:
    'A key is 256 random bits, printed once and stored only as its SHA-256 hash under a public id\n' +
    '(atr_…). Scopes: ingest, read, decide, approve, admin. A running server sees new and revoked\n' +
    'keys at the next request. Creation and revocation are recorded in the tenant log\n' +
    '(key.created, key.revoked), without the secret.',
  options: {
    db: {
      type: 'string',
      value: 'PATH',
      help: 'database file (default: $AUDITRAIL_DB, else ./.auditrail/audit.db)',
    },
    postgres: TARGET_OPTIONS['postgres']!,
    tenant: { type: 'string', value: 'ID', help: 'the tenant the key acts for' },
    name: { type: 'string', value: 'NAME', help: 'the principal (recorded as approver for approvals)' },
    scope: { type: 'string', value: 'LIST', help: 'comma-separated: ingest,read,decide,approve,admin' },
    json: { type: 'boolean', help: 'print JSON' },
  },
  positionals: { min: 1, max: 2, names: 'subcommand (create | list | revoke KEY_ID)' },
  examples: [
    'auditrail apikeys create --tenant acme --name ci-bot --scope ingest,read,decide',
    'auditrail apikeys create --tenant acme --name finance-lead --scope approve,read',
    'auditrail apikeys list --tenant acme',
    'auditrail apikeys revoke atr_1a2b3c4d5e6f7a8b',
  ],
};

export function run(args: string[], io: Io): Promise<number> {
  return execute(spec, args, io, async ({ values, positionals }) => {
    const sub = positionals[0];
    if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') {
      throw new UsageError(`unknown subcommand 'apikeys ${sub}' (expected create, list or revoke)`);
    }
    const target = resolveTarget(values, io);
    const tenant = str(values, 'tenant');
    if (sub === 'create') {
      const name = str(values, 'name');
      const scope = str(values, 'scope');
      if (tenant === undefined || name === undefined || scope === undefined)
        throw new UsageError('apikeys create needs --tenant, --name and --scope');
      const scopes = parseScopes(scope);
      const app = await buildServer({ db: target.db });
      try {
        const k = await app.auditrail.createKey({
          tenant,
          name,
          scopes,
          createdBy: io.env['USER'] ?? 'auditrail-cli',
        });
        if (bool(values, 'json')) io.stdout.write(`${JSON.stringify(k, null, 2)}\n`);
        else
          io.stdout.write(
            `created ${k.id} for tenant ${k.tenant} (${k.name}: ${k.scopes.join(',')}); the key, shown once:\n${k.key}\n`,
          );
      } finally {
        await app.close();
      }
      return EXIT_OK;
    }
    if (positionals.length > 1 && sub === 'list')
      throw new UsageError(`unexpected argument '${positionals[1]}'`);
    const app = await buildServer({ db: target.db });
    try {
      if (sub === 'revoke') {
        const id = positionals[1];
        if (id === undefined) throw new UsageError('missing KEY_ID (apikeys revoke atr_…)');
        const k = await app.auditrail.revokeKey(id, io.env['USER'] ?? 'auditrail-cli');
        io.stdout.write(`revoked ${k.id} (${k.tenant}/${k.name})\n`);
        return EXIT_OK;
      }
      const keys = await app.auditrail.listKeys(tenant);
      if (bool(values, 'json')) {
        io.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
        return EXIT_OK;
      }
      if (keys.length === 0) {
        io.stdout.write(`no API keys${tenant !== undefined ? ` for tenant ${tenant}` : ''}\n`);
        return EXIT_OK;
      }
      io.stdout.write(
        renderTable(
          [
            { header: 'id', min: 20 },
            { header: 'tenant', min: 6 },
            { header: 'name', min: 4 },
            { header: 'scopes', min: 6 },
            { header: 'state', min: 7 },
          ],
          keys.map((k) => ({
            cells: [
              k.id,
              k.tenant,
              k.name,
              k.scopes.join(','),
              k.revoked_at ? `revoked ${k.revoked_at.slice(0, 10)}` : 'active',
            ],
          })),
          { width: outputWidth(io, 120), colors: colors(io) },
        ),
      );
      return EXIT_OK;
    } finally {
      await app.close();
    }
  });
}
