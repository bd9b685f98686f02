import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CoreError } from './core/errors.js';
import { parseCheckpoint } from './core/checkpoint.js';
import { canonicalize } from './core/canonical-json.js';
import { parseDisclosure } from './core/disclosure.js';
import { parseLeaf } from './core/leaf.js';
import { AUDIT_ERROR_HTTP_STATUS, AuditError, fromCoreError, ValidationError } from './errors.js';
import * as api from './index.js';
import * as store from './store/index.js';
import * as testing from './testing/index.js';
import type { ActionDecision } from './sdk/governance/governor.js';
import type { ApprovalRequestInfo } from './sdk/governance/approvals.js';

const here = dirname(fileURLToPath(import.meta.url));

function errorClasses(mod: Record<string, unknown>): [string, new (...a: never[]) => Error][] {
  return Object.entries(mod).filter(
    (entry): entry is [string, new (...a: never[]) => Error] =>
      typeof entry[1] === 'function' &&
      (entry[1] === Error || (entry[1] as { prototype?: unknown }).prototype instanceof Error),
  );
}

const decision = {
  decision: 'deny',
  reason: 'no',
  matched_rule: 'r1',
  enforced: true,
  intent_event_id: 'i',
  decision_event_id: 'd',
} as unknown as ActionDecision;
const request = { id: 'apr_1', approvers: ['lead'] } as unknown as ApprovalRequestInfo;

// One instance of each exported class, as the product raises it.
const samples: Record<string, () => AuditError> = {
  AuditError: () => new api.AuditError('not_found', 'x'),
  ValidationError: () =>
    new api.ValidationError([{ field: '/type', rule: 'required', message: 'is required' }]),
  ActionDeniedError: () => new api.ActionDeniedError(decision),
  ApprovalRequiredError: () => new api.ApprovalRequiredError(request),
  TimeoutError: () => new api.TimeoutError('timed out after 5 ms'),
  ApprovalError: () => new api.ApprovalError('conflict', 'used'),
  ArchivedDataError: () => new api.ArchivedDataError('the subject has archived events', []),
  RemoteError: () =>
    new api.RemoteError(
      'store_failure',
      'request to http://127.0.0.1:8700 failed: ECONNREFUSED',
      0,
      'network',
    ),
  PolicyError: () => {
    try {
      api.parsePolicy('policy_id: p\nversion: 1\nrules: [{ id: r, effect: permit }]\n');
    } catch (e) {
      return e as AuditError;
    }
    throw new Error('parsePolicy accepted an invalid bundle');
  },
};

const expectedCodes: Record<string, string> = {
  AuditError: 'not_found',
  ValidationError: 'invalid_event',
  ActionDeniedError: 'denied',
  ApprovalRequiredError: 'approval_required',
  TimeoutError: 'timeout',
  ApprovalError: 'conflict',
  ArchivedDataError: 'conflict',
  PolicyError: 'policy_invalid',
  RemoteError: 'store_failure',
};

describe('error classes', () => {
  it('every error class the package exports is an AuditError with a code from the one union', () => {
    const exported = [...errorClasses(api), ...errorClasses(testing), ...errorClasses(store)];
    assert.deepEqual(exported.map(([n]) => n).sort(), Object.keys(samples).sort());
    for (const [name, cls] of exported) {
      assert.ok(cls === AuditError || cls.prototype instanceof AuditError, `${name} extends AuditError`);
      const e = samples[name]!();
      assert.ok(e instanceof cls, name);
      assert.ok(e instanceof AuditError, name);
      assert.equal(e.name, name);
      assert.equal(e.code, expectedCodes[name], `${name}.code`);
      assert.ok(Object.hasOwn(AUDIT_ERROR_HTTP_STATUS, e.code), `${name}: ${e.code} is a documented code`);
    }
  });

  it('an unreadable policy file is a PolicyError with code policy_unreadable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'auditrail-errors-'));
    try {
      const err = await api.loadPolicyFile(join(dir, 'missing.yaml')).then(
        () => assert.fail('loaded a missing file'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof api.PolicyError && err instanceof AuditError);
      assert.equal(err.code, 'policy_unreadable');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('docs/sdk.md lists every code with the HTTP status of AUDIT_ERROR_HTTP_STATUS, and no other', () => {
    const doc = readFileSync(join(here, '..', 'docs', 'sdk.md'), 'utf8');
    const section = doc.slice(
      doc.indexOf('## Errors\n'),
      doc.indexOf('\n## ', doc.indexOf('## Errors\n') + 1),
    );
    const rows = [...section.matchAll(/^\| `([a-z_]+)` \| .+ \| (\d{3}) \|$/gm)].map(
      (m) => [m[1]!, Number(m[2])] as const,
    );
    assert.deepEqual(Object.fromEntries(rows), { ...AUDIT_ERROR_HTTP_STATUS });
    assert.equal(rows.length, Object.keys(AUDIT_ERROR_HTTP_STATUS).length, 'no code listed twice');
  });
});

describe('core errors', () => {
  it('every error class core exports is a CoreError (core cannot import AuditError)', async () => {
    const files = readdirSync(join(here, 'core')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const found: string[] = [];
    for (const f of files) {
      const mod = (await import(`./core/${f.replace(/\.ts$/, '.js')}`)) as Record<string, unknown>;
      for (const [name, cls] of errorClasses(mod)) {
        found.push(name);
        assert.ok(cls === CoreError || cls.prototype instanceof CoreError, `${f}: ${name} extends CoreError`);
      }
    }
    assert.deepEqual(found.sort(), ['CanonicalJsonError', 'CoreError', 'NoteError', 'ProofError']);
  });

  it('parsers throw CoreError with a code, never a bare Error', () => {
    const malformed = (e: unknown) => e instanceof CoreError && e.code === 'malformed';
    assert.throws(() => parseLeaf('{'), malformed);
    assert.throws(() => parseLeaf(Buffer.of(0xc3)), malformed);
    assert.throws(() => parseCheckpoint('origin\n01\n'), malformed);
    assert.throws(() => parseDisclosure(Buffer.from('[1,2]')), malformed);
    assert.throws(
      () => canonicalize(Number.NaN),
      (e: unknown) => e instanceof CoreError && e.code === 'not_canonical',
    );
  });

  it('fromCoreError maps core codes onto the union and keeps the core error as the cause', () => {
    const cases = [
      ['malformed', 'proof_invalid'],
      ['bad_signature', 'proof_invalid'],
      ['missing', 'store_failure'],
      ['not_canonical', 'invalid_argument'],
    ] as const;
    for (const [core, code] of cases) {
      const cause = new CoreError(core, 'tile 0/0 is missing');
      const e = fromCoreError(cause, 'cannot prove seq 3');
      assert.ok(e instanceof AuditError);
      assert.equal(e.code, code);
      assert.equal(e.cause, cause);
      assert.equal(e.message, 'cannot prove seq 3: tile 0/0 is missing');
    }
    const other = new ValidationError([]);
    assert.equal(fromCoreError(other), other, 'an AuditError passes unchanged');
    const tool = new Error('tool failed');
    assert.equal(fromCoreError(tool), tool, 'a foreign error passes unchanged');
  });

  it('src/ throws no bare Error outside the listed assertion sites', () => {
    // Each entry: an impossible state or a failure that is not ours (a simulated tool's error).
    const allowed = new Set([
      'core/merkle.ts', // compact range invariant
      'store/sqlite/append-worker.ts', // the module loaded outside a worker thread
      'policy/bench.ts', // keeps the benchmark's result alive
      'cli/demo-session.ts', // the demo's tool failing, as a real tool would
    ]);
    const offenders: string[] = [];
    const walk = (dir: string, rel: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        const relPath = rel ? `${rel}/${entry.name}` : entry.name;
        // The dashboard's page scripts run in the browser, where no caller sees an AuditError.
        if (entry.isDirectory()) {
          if (relPath !== 'server/dashboard/client') walk(path, relPath);
        } else if (
          /\.ts$/.test(entry.name) &&
          !/\.(test|contract|cases)\.ts$/.test(entry.name) &&
          !allowed.has(relPath)
        ) {
          if (/throw new Error\(/.test(readFileSync(path, 'utf8'))) offenders.push(relPath);
        }
      }
    };
    walk(here, '');
    assert.deepEqual(offenders, []);
  });
});
