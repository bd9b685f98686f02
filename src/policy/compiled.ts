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
 * - any other type: walk the `prefixes` trie (keyed by each wildcard glob's literal prefix) along
 *   the type's characters; the deepest node reached lists the rules with no action constraint or
 *   a leading wildcard, plus every rule whose prefix lies on that path. Those still run their
 *   action test; a rule naming only literal types is never among them.
 */
export interface ActionIndex {
  readonly exact: ReadonlyMap<string, readonly CompiledRule[]>;
  readonly prefixes: PrefixNode;
}

/** A character trie of literal prefixes, each node holding its merged candidate list. */
export interface PrefixNode {
  readonly children: Map<number, PrefixNode>;
  candidates: readonly CompiledRule[];
}

export interface CompiledBundle {
  readonly rules: readonly CompiledRule[];
  readonly index: ActionIndex;
}

// Past this many literal × rule tests at load, leave `exact` empty (evaluation stays correct via
// the trie, only slower): bounds load time for very large bundles.
const MAX_INDEX_WORK = 4_000_000;

interface BuildNode {
  readonly children: Map<number, BuildNode>;
  readonly own: CompiledRule[];
}

/** Builds the action-type index for rules in bundle order. */
export function buildActionIndex(rules: readonly CompiledRule[]): ActionIndex {
  const literals = new Set<string>();
  const always: CompiledRule[] = [];
  const root: BuildNode = { children: new Map(), own: [] };
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
          next = { children: new Map(), own: [] };
          node.children.set(c, next);
        }
        node = next;
      }
      node.own.push(r);
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
  return { exact, prefixes: finish(root, always) };
}

// Each node's list = its parent's list + its own rules, merged in bundle order and deduplicated
// (a rule with two globs can sit on one path twice). Nodes without rules share the parent's array.
function finish(node: BuildNode, inherited: readonly CompiledRule[]): PrefixNode {
  let candidates = inherited;
  if (node.own.length > 0) {
    const merged = new Set([...inherited, ...node.own]);
    candidates = [...merged].sort((a, b) => a.order - b.order);
  }
  const children = new Map<number, PrefixNode>();
  for (const [c, child] of node.children) children.set(c, finish(child, candidates));
  return { children, candidates };
}

/** The rules that may match `type` when no rule names it literally, in bundle order. */
export function wildcardCandidates(index: ActionIndex, type: string): readonly CompiledRule[] {
  let node = index.prefixes;
  // Every node passed ends a prefix of the type; the deepest one's list includes the others'.
  for (let i = 0; i < type.length; i++) {
    const next = node.children.get(type.charCodeAt(i));
    if (next === undefined) break;
    node = next;
  }
  return node.candidates;
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
