// The log the compliance drills audit (seed 001: "Compliance scenarios you should test"): demo
// sessions of the "Acme Support" agent, every action run through the real Governor under
// examples/policies/support-agent.yaml, in a real SQLite file. The drills then work as an auditor
// would: through the CLI (log, check, evidence, verify-evidence, verify) run in process.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEMO_POLICY_YAML, runDemoSession } from '../../src/cli/demo-session.js';
import { loadPolicyFile, openAuditTrail, type AuditTrail, type RecordedEvent } from '../../src/index.js';
import type { PolicyRule } from '../../src/policy/index.js';
import { runCli, tempDir } from '../integration/helpers.js';

export const POLICY_FILE = fileURLToPath(
  new URL('../../examples/policies/support-agent.yaml', import.meta.url),
);

export interface DrillLog {
  dir: string;
  db: string;
  sessions: string[];
  /** The verifier key, as the operator hands it to the auditor. */
  vkey: string;
}

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/**
 * Records `sessions` governed demo sessions into a fresh SQLite log (tenant `acme`) and signs a
 * checkpoint. `now`: the trail's clock (default the real one). The policy the sessions run under
 * is the published example file (checked equal to the demo's, so the drill audits that policy).
 */
export async function recordDrillLog(
  sessions = 2,
  options: { now?: () => number; dir?: string } = {},
): Promise<DrillLog> {
  assert.equal(readFileSync(POLICY_FILE, 'utf8'), DEMO_POLICY_YAML);
  const dir = options.dir ?? tempDir('auditrail-drill-');
  const db = join(dir, 'audit.db');
  const trail = await openTrail(db, options.now);
  const ids: string[] = [];
  try {
    for (let i = 0; i < sessions; i++) ids.push(await runDemoSession(trail, i));
    await trail.checkpoint();
    return { dir, db, sessions: ids, vkey: trail.verifierKey() };
  } finally {
    await trail.close();
  }
}

/** Opens the drill's log for the operator's side of a drill (writes the auditor does not do). */
export function openTrail(db: string, now?: () => number): Promise<AuditTrail> {
  return openAuditTrail({ tenant: 'acme', db, ...(now ? { now } : {}) });
}

/** Runs `auditrail <args>` in process against the drill's database, as the auditor types it. */
export async function cli(log: Pick<DrillLog, 'db' | 'dir'>, args: string[]): Promise<CliResult> {
  const r = await runCli(args, {
    cwd: log.dir,
    env: { AUDITRAIL_DB: log.db, AUDITRAIL_TENANT: 'acme', NO_COLOR: '1' },
  });
  return { code: r.code, out: r.stdout, err: r.stderr };
}

/** `auditrail log <filters> --format json`: the events, oldest first. */
export async function logJson(log: DrillLog, filters: string[]): Promise<RecordedEvent[]> {
  const r = await cli(log, ['log', ...filters, '--format', 'json']);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as RecordedEvent[];
}

/** The rules of the published policy, by id. */
export async function policyRules(): Promise<Map<string, PolicyRule>> {
  const bundle = await loadPolicyFile(POLICY_FILE);
  return new Map(bundle.rules.map((r) => [r.id, r]));
}

/** A dotted field of an event, for findings' assertions. */
export function field(e: unknown, path: string): unknown {
  let v: unknown = e;
  for (const k of path.split('.'))
    v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}
