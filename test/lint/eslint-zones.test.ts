// Every layer arrow of DESIGN.md §1 is an import zone in eslint.config.js; this lints one small
// file breaking each zone (and files keeping to them) so a zone that is dropped or stops matching
// fails here. Only the zone rule runs, without type information: cheap.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ESLint } from 'eslint';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Zone {
  message: string;
}

// One breaking import per zone, by the zone's message: [file it is in, what it imports].
const BREAKING: [string, string][] = [
  ['src/core/fixture.ts', '../sdk/open.js'],
  ['src/policy/fixture.ts', '../sdk/governance/governor.js'],
  ['src/sdk/fixture.ts', '../integrations/tool-action.js'],
  ['src/sdk/fixture.ts', '../store/sqlite/sqlite-store.js'],
  ['src/integrations/fixture.ts', '../sdk/internals.js'],
  ['src/export/fixture.ts', '../store/store.js'],
  ['src/detect/fixture.ts', '../sdk/open.js'],
  ['src/report/fixture.ts', '../policy/bundle.js'],
  ['src/cli/fixture.ts', '../store/open-store.js'],
  ['src/sdk/fixture.ts', '../cli/args.js'],
];

// Imports each layer may make.
const ALLOWED: [string, string][] = [
  ['src/core/fixture.ts', '../internal/ids.js'],
  ['src/store/fixture.ts', '../core/append-plan.js'],
  ['src/sdk/fixture.ts', '../store/store.js'],
  ['src/integrations/fixture.ts', '../index.js'],
  ['src/integrations/mcp/fixture.ts', '../tool-action.js'],
  ['src/cli/fixture.ts', '../sdk/internal-api.js'],
  ['src/cli/fixture.ts', '../integrations/mcp/proxy.js'],
  ['src/export/fixture.ts', '../core/glob.js'],
  ['src/export/fixture.ts', '../sdk/export-state.js'],
];

async function zoneLinter(): Promise<{ eslint: ESLint; zones: Zone[] }> {
  const config = (await import(pathToFileURL(join(root, 'eslint.config.js')).href)) as {
    LAYER_ZONES: Zone[];
  };
  const eslint = new ESLint({
    cwd: root,
    overrideConfigFile: true,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parser: tseslint.parser },
        plugins: { 'import-x': importX },
        settings: { 'import-x/resolver': { typescript: true, node: true } },
        rules: { 'import-x/no-restricted-paths': ['error', { basePath: root, zones: config.LAYER_ZONES }] },
      },
    ],
  });
  return { eslint, zones: config.LAYER_ZONES };
}

async function zoneErrors(eslint: ESLint, file: string, from: string): Promise<string[]> {
  const [result] = await eslint.lintText(`import '${from}';\n`, { filePath: join(root, file) });
  assert.ok(result, file);
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `${file} parses`);
  return result.messages.filter((m) => m.ruleId === 'import-x/no-restricted-paths').map((m) => m.message);
}

describe('layer zones (eslint.config.js)', () => {
  it('each zone refuses an import that breaks it, and every zone has such a case', async () => {
    const { eslint, zones } = await zoneLinter();
    assert.equal(zones.length, BREAKING.length, 'one breaking case per zone: add one for a new zone');
    const caught = new Set<string>();
    for (const [file, from] of BREAKING) {
      const errors = await zoneErrors(eslint, file, from);
      assert.ok(errors.length > 0, `${file} importing ${from} is refused`);
      for (const zone of zones) if (errors.some((e) => e.endsWith(zone.message))) caught.add(zone.message);
    }
    assert.deepEqual(
      zones.map((z) => z.message).filter((m) => !caught.has(m)),
      [],
      'every zone bites at least one case',
    );
  });

  it('lets each layer import what it may', async () => {
    const { eslint } = await zoneLinter();
    for (const [file, from] of ALLOWED) {
      assert.deepEqual(await zoneErrors(eslint, file, from), [], `${file} importing ${from}`);
    }
  });
});
