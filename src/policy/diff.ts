/**
 * `diffPolicies()`: what changed between two versions of a bundle, by rule id, for the
 * `policy.updated` event (DESIGN.md §5) and for humans reviewing a change.
 */
import { canonicalize } from '../core/canonical-json.js';
import { RULE_KEYS, type PolicyBundle, type PolicyDiff } from './types.js';

type Obj = Record<string, unknown>;

// A rule is known by its id; every other key of a rule is a field that can change.
const RULE_FIELDS = RULE_KEYS.filter((k) => k !== 'id');
const SETTINGS = [
  'policy_id',
  'description',
  'risk_defaults',
  'default_approvers',
  'default_approval_ttl',
] as const;
const MAX_VALUE_TEXT = 200;

function asObject(v: unknown): Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}

function rulesOf(bundle: PolicyBundle): Obj[] {
  const rules = asObject(bundle.source)['rules'];
  return Array.isArray(rules) ? rules.map(asObject) : [];
}

function same(a: unknown, b: unknown): boolean {
  if (a === undefined || b === undefined) return a === b;
  return canonicalize(a) === canonicalize(b);
}

function show(v: unknown): string {
  const text = v === undefined ? '(absent)' : canonicalize(v);
  return text.length > MAX_VALUE_TEXT ? `${text.slice(0, MAX_VALUE_TEXT - 3)}...` : text;
}

function short(snapshot: string): string {
  return snapshot.slice(0, 'sha256:'.length + 12);
}

/**
 * Indexes (into `seq`) of a longest strictly increasing subsequence: the rules that kept their
 * relative order. Patience sorting, O(n log n).
 */
function longestIncreasing(seq: readonly number[]): Set<number> {
  const tails: number[] = [];
  const prev: number[] = new Array<number>(seq.length).fill(-1);
  for (let i = 0; i < seq.length; i++) {
    const v = seq[i] as number;
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((seq[tails[mid] as number] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1] as number;
    tails[lo] = i;
  }
  const keep = new Set<number>();
  let k = tails.length > 0 ? (tails[tails.length - 1] as number) : -1;
  while (k >= 0) {
    keep.add(k);
    k = prev[k] as number;
  }
  return keep;
}

/**
 * Compares two bundles (`previous = null` for the first load: every rule is added). Rules are
 * matched by id; a kept rule is `changed` when any of its fields differs, or with `position` when
 * it moved relative to the other kept rules (order decides: first match wins).
 *
 * @example
 * const d = diffPolicies(v2, v3);
 * // d.text:
 * // policy support-agent: v2 (sha256:1f0c…) -> v3 (sha256:9ab2…)
 * // ~ default: allow -> deny
 * // + rule allow-reads (allow)
 * // ~ rule approve-large-refunds: when
 * //     - when: "params.amount > 1000.0"
 * //     + when: "params.amount > 500.0"
 */
export function diffPolicies(previous: PolicyBundle | null, next: PolicyBundle): PolicyDiff {
  const before = previous === null ? [] : rulesOf(previous);
  const after = rulesOf(next);
  const idOf = (r: Obj): string => String(r['id']);
  const beforeById = new Map(before.map((r, i) => [idOf(r), { rule: r, index: i }]));
  const afterIds = new Set(after.map(idOf));

  const added: string[] = [];
  const kept: { id: string; was: Obj; now: Obj; oldIndex: number }[] = [];
  for (const r of after) {
    const old = beforeById.get(idOf(r));
    if (old === undefined) added.push(idOf(r));
    else kept.push({ id: idOf(r), was: old.rule, now: r, oldIndex: old.index });
  }
  const removed = before.map(idOf).filter((id) => !afterIds.has(id));

  const inPlace = longestIncreasing(kept.map((k) => k.oldIndex));
  const changed: PolicyDiff['changed'] = [];
  const detail: string[] = [];
  kept.forEach((k, i) => {
    const fields: string[] = RULE_FIELDS.filter((f) => !same(k.was[f], k.now[f]));
    if (!inPlace.has(i)) fields.push('position');
    if (fields.length === 0) return;
    changed.push({ id: k.id, fields });
    detail.push(`~ rule ${k.id}: ${fields.join(', ')}`);
    for (const f of fields) {
      if (f === 'position') {
        detail.push(`    moved: rule ${k.oldIndex + 1} -> rule ${after.indexOf(k.now) + 1}`);
        continue;
      }
      if (k.was[f] !== undefined) detail.push(`    - ${f}: ${show(k.was[f])}`);
      if (k.now[f] !== undefined) detail.push(`    + ${f}: ${show(k.now[f])}`);
    }
  });

  const diff: PolicyDiff = {
    policy_id: next.policyId,
    from_version: previous?.version ?? null,
    to_version: next.version,
    from_snapshot: previous?.snapshot ?? null,
    to_snapshot: next.snapshot,
    added,
    removed,
    changed,
    text: '',
  };

  const lines: string[] = [
    previous === null
      ? `policy ${next.policyId}: (none) -> v${next.version} (${short(next.snapshot)})`
      : `policy ${next.policyId}: v${previous.version} (${short(previous.snapshot)}) -> v${next.version} (${short(next.snapshot)})`,
  ];
  if (previous !== null) {
    if (previous.defaultEffect !== next.defaultEffect) {
      diff.default_changed = { from: previous.defaultEffect, to: next.defaultEffect };
      lines.push(`~ default: ${previous.defaultEffect} -> ${next.defaultEffect}`);
    }
    if (previous.mode !== next.mode) {
      diff.mode_changed = { from: previous.mode, to: next.mode };
      lines.push(`~ mode: ${previous.mode} -> ${next.mode}`);
    }
    const was = asObject(previous.source);
    const now = asObject(next.source);
    const settings = SETTINGS.filter((k) => !same(was[k], now[k]));
    if (settings.length > 0) {
      diff.settings_changed = [...settings];
      for (const k of settings) lines.push(`~ ${k}: ${show(was[k])} -> ${show(now[k])}`);
    }
  } else {
    lines.push(`  default: ${next.defaultEffect}, mode: ${next.mode}`);
  }
  const effectOf = (r: Obj): string => String(r['effect']);
  for (const r of after) if (!beforeById.has(idOf(r))) lines.push(`+ rule ${idOf(r)} (${effectOf(r)})`);
  for (const r of before) if (!afterIds.has(idOf(r))) lines.push(`- rule ${idOf(r)} (${effectOf(r)})`);
  lines.push(...detail);
  if (previous !== null && lines.length === 1) {
    lines.push(previous.snapshot === next.snapshot ? '  (no change)' : '  (no rule or setting changed)');
  }
  diff.text = lines.join('\n');
  return diff;
}
