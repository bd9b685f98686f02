/**
 * The compiled side of a bundle: per-rule matchers and the action-type index `evaluate()` walks.
 * Kept in a WeakMap keyed by the (frozen) public bundle, so a bundle cannot be hand-built or edited
 * into deciding differently from what its snapshot names.
 */
import type { CompiledCondition } from './condition.js';
import { literalPrefix, literalText } from './glob.js';
import type { StringMatcher } from './glob.js';
import type { PolicyBundle, PolicyRule } from './types.js';

/** One rule ready to run. `null` means "this rule does not constrain that field". */
export interface CompiledRule {
  readonly rule: PolicyRule;
  /** Position in the bundle: evaluation order. */
  readonly order: number;
  /** Action-type globs as written; `null` = any action. */
  readonly actionGlobs: readonly string[] | null;
  readonly action: StringMatcher | null;
  readonly target: StringMatcher | null;
  readonly actorId: StringMatcher | null;
  readonly actorType: StringMatcher | null;
  readonly trustTier: StringMatcher | null;
  /** The actor must carry every one of these tags. */
  readonly actorTags: readonly string[] | null;
  readonly tenant: StringMatcher | null;
  readonly environment: StringMatcher | null;
  readonly riskLevel: StringMatcher | null;
  readonly depthMin: number | null;
  readonly depthMax: number | null;
  readonly rootAgent: StringMatcher | null;
  readonly condition: CompiledCondition | null;
}

/**
 * Candidate rules by action type, each list in bundle order.
 *
 * - `exact`: for every action type some rule names literally, every rule whose action globs match
 *   it, tested once at load, so evaluation skips the action test.
 * - any other type: the rules in `always` (no action constraint, or a glob starting with a
 *   wildcard) plus those on the `prefixes` trie path the type spells out (keyed by each wildcard
 *   glob's literal prefix). Those still run their action test; a rule naming only literal types
 *   is never among them.
 */
export interface ActionIndex {
  readonly exact: ReadonlyMap<string, readonly CompiledRule[]>;
  readonly always: readonly CompiledRule[];
  readonly prefixes: PrefixNode;
}

/** A character trie of literal prefixes; `rules` are those whose prefix ends at this node. */
export interface PrefixNode {
  readonly children: Map<number, PrefixNode>;
  rules: CompiledRule[] | null;
}

export interface CompiledBundle {
  readonly rules: readonly CompiledRule[];
  readonly index: ActionIndex;
}

// Past this many literal × rule tests at load, leave `exact` empty (evaluation stays correct via
// the prefix buckets, only slower): bounds load time for very large bundles.
const MAX_INDEX_WORK = 4_000_000;

/** Builds the action-type index for rules in bundle order. */
export function buildActionIndex(rules: readonly CompiledRule[]): ActionIndex {
  const literals = new Set<string>();
  const always: CompiledRule[] = [];
  const root: PrefixNode = { children: new Map(), rules: null };
  for (const r of rules) {
    const globs = r.actionGlobs;
    if (globs === null) {
      always.push(r);
      continue;
    }
    const prefixes = new Set<string>();
    for (const g of globs) {
      const text = literalText(g);
      if (text !== null) literals.add(text);
      else prefixes.add(literalPrefix(g));
    }
    if (prefixes.has('')) {
      always.push(r);
      continue;
    }
    for (const p of prefixes) {
      let node = root;
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i);
        let next = node.children.get(c);
        if (next === undefined) {
          next = { children: new Map(), rules: null };
          node.children.set(c, next);
        }
        node = next;
      }
      (node.rules ??= []).push(r);
    }
  }
  const exact = new Map<string, readonly CompiledRule[]>();
  if (literals.size * rules.length <= MAX_INDEX_WORK) {
    for (const type of literals) {
      exact.set(
        type,
        rules.filter((r) => r.action === null || r.action(type)),
      );
    }
  }
  return { exact, always, prefixes: root };
}

function byOrder(a: CompiledRule, b: CompiledRule): number {
  return a.order - b.order;
}

/**
 * The rules that may match `type` when no rule names it literally, in bundle order. Allocates
 * only when more than one bucket applies.
 */
export function wildcardCandidates(index: ActionIndex, type: string): readonly CompiledRule[] {
  let single: readonly CompiledRule[] | null = index.always.length > 0 ? index.always : null;
  let merged: CompiledRule[] | null = null;
  let node: PrefixNode | undefined = index.prefixes;
  // Walk the type's characters down the trie; every node passed ends a prefix of the type.
  for (let i = 0; node !== undefined; i++) {
    const bucket = node.rules;
    if (bucket !== null) {
      if (single === null) single = bucket;
      else {
        merged ??= [...single];
        for (const r of bucket) merged.push(r);
      }
    }
    if (i === type.length || node.children.size === 0) break;
    node = node.children.get(type.charCodeAt(i));
  }
  if (merged === null) return single ?? [];
  merged.sort(byOrder);
  // A rule with two globs can sit in two buckets: keep it once.
  let w = 0;
  for (let i = 0; i < merged.length; i++) {
    const r = merged[i] as CompiledRule;
    if (w === 0 || merged[w - 1] !== r) merged[w++] = r;
  }
  merged.length = w;
  return merged;
}

const registry = new WeakMap<PolicyBundle, CompiledBundle>();

export function registerCompiled(bundle: PolicyBundle, compiled: CompiledBundle): void {
  registry.set(bundle, compiled);
}

/** The compiled form of a bundle made by `parsePolicy()`; throws for anything else. */
export function compiledOf(bundle: PolicyBundle): CompiledBundle {
  const c = registry.get(bundle);
  if (c === undefined) {
    throw new TypeError('evaluate() needs a bundle returned by parsePolicy() or loadPolicyFile()');
  }
  return c;
}
