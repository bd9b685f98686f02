/**
 * What the log keeps of a decision and of a policy change, within the event limits (256
 * conditions, 256 KiB per event) whatever the bundle's size: the deciding rule's condition in
 * full and a count and digest of the others; a diff's digest and counts in the event and the
 * diff itself as a separately stored payload. See docs/policy.md "What is recorded".
 */
import { createHash } from 'node:crypto';
import { canonicalBytes } from '../core/canonical-json.js';
import type { ConditionResult, PolicyBundle, PolicyDecision, PolicyDiff } from './types.js';

/** The `policy` fields about conditions of a decision event. */
export interface RecordedConditions {
  conditions_evaluated: ConditionResult[];
  conditions_omitted?: { count: number; digest: string };
}

/** `'sha256:' + hex(SHA-256(JCS(value)))`, as for bundle snapshots. */
export function jcsDigest(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalBytes(value)).digest('hex')}`;
}

const whenById = new WeakMap<PolicyBundle, Map<string, string>>();

function conditionOf(bundle: PolicyBundle, ruleId: string): string | undefined {
  let m = whenById.get(bundle);
  if (m === undefined) {
    m = new Map();
    for (const r of bundle.rules) if (r.when !== undefined) m.set(r.id, r.when);
    whenById.set(bundle, m);
  }
  return m.get(ruleId);
}

/**
 * The conditions a decision event records: the deciding rule's own condition (its result, or
 * its error for a fail-closed deny), and for all the others (rules whose condition was false)
 * only how many there were and the digest of their list, `{expression, result}` in evaluation
 * order, so that re-evaluating the same input under the same snapshot can be checked against it.
 *
 * @example
 * const d = evaluate(bundle, input);
 * recordedConditions(bundle, d);
 * // { conditions_evaluated: [{ expression: 'params.amount > 500.0', result: true }],
 * //   conditions_omitted: { count: 299, digest: 'sha256:…' } }
 */
export function recordedConditions(bundle: PolicyBundle, decision: PolicyDecision): RecordedConditions {
  const all = decision.conditions_evaluated;
  const last = all[all.length - 1];
  const deciding =
    last !== undefined &&
    decision.matched_rule !== null &&
    conditionOf(bundle, decision.matched_rule) === last.expression;
  const kept = deciding ? [last] : [];
  const others = deciding ? all.slice(0, -1) : all;
  if (others.length === 0) return { conditions_evaluated: kept };
  return {
    conditions_evaluated: kept,
    conditions_omitted: { count: others.length, digest: jcsDigest(others) },
  };
}

/** A policy diff as recorded: the payload stored apart and what the event holds. */
export interface DiffRecord {
  /** The meta key the payload is stored under. */
  key: string;
  /** JCS of the full {@link PolicyDiff}: the payload, byte for byte. */
  payload: string;
  /** The event's `action.params`: digest of the payload and counts. */
  params: {
    diff_digest: string;
    diff_bytes: number;
    added: number;
    removed: number;
    changed: number;
    evidence: string;
  };
}

/**
 * Meta key prefix of stored bundle sources, by snapshot: `policy-source:sha256:<hex>` holds the
 * JCS of the source (redacted), so a reader checks it against the snapshot a `policy.updated`
 * event names (`jcsDigest(JSON.parse(text)) === snapshot`; a redacted source does not match).
 */
export const SOURCE_KEY_PREFIX = 'policy-source:';

/**
 * The stored source of a snapshot, checked against it; `null` when it is missing or does not
 * match (redacted before storing, or altered).
 *
 * @example
 * const source = verifySourcePayload(snapshot, await store.getMeta(`policy-source:${snapshot}`));
 */
export function verifySourcePayload(snapshot: string, payload: string | undefined | null): unknown {
  if (typeof payload !== 'string') return null;
  let source: unknown;
  try {
    source = JSON.parse(payload);
  } catch {
    return null;
  }
  return jcsDigest(source) === snapshot ? source : null;
}

/** Meta key prefix of stored diff payloads: `policy-diff:sha256:<hex>`. */
export const DIFF_KEY_PREFIX = 'policy-diff:';

/**
 * Splits a diff into the payload stored apart (any size) and the summary the `policy.updated`
 * event holds. The event's digest is SHA-256 of the payload's bytes, so the payload is checked
 * against a value that the log's Merkle tree covers.
 *
 * @example
 * const r = diffRecord(diffPolicies(previous, next));
 * await store.setMeta(r.key, r.payload);
 * await trail.record({ type: 'policy.updated', action: { type: 'policy.load', params: r.params }, … });
 */
export function diffRecord(diff: PolicyDiff): DiffRecord {
  const bytes = canonicalBytes(diff);
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const key = `${DIFF_KEY_PREFIX}${digest}`;
  return {
    key,
    payload: bytes.toString('utf8'),
    params: {
      diff_digest: digest,
      diff_bytes: bytes.length,
      added: diff.added.length,
      removed: diff.removed.length,
      changed: diff.changed.length,
      evidence: `meta:${key}`,
    },
  };
}

/**
 * Checks a stored diff payload against the digest its `policy.updated` event holds, and returns
 * the diff. `null` when the payload is missing or does not match.
 *
 * @example
 * const p = event.action?.params as { diff_digest: string };
 * const diff = verifyDiffPayload(p.diff_digest, await store.getMeta(`policy-diff:${p.diff_digest}`));
 */
export function verifyDiffPayload(digest: string, payload: string | undefined | null): PolicyDiff | null {
  if (typeof payload !== 'string') return null;
  const actual = `sha256:${createHash('sha256').update(payload, 'utf8').digest('hex')}`;
  if (actual !== digest) return null;
  try {
    return JSON.parse(payload) as PolicyDiff;
  } catch {
    return null;
  }
}
