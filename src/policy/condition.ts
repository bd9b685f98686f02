/**
 * CEL conditions (`when:`): compiled and type-checked once when a bundle loads, run against an
 * event's variables on every evaluation. Any failure at run time is reported as text, never
 * thrown: the caller turns it into a deny (fail-closed).
 *
 * Bounded time: `matches()` runs on RE2 (re2js, linear in the text, as the CEL spec's RE2 syntax
 * asks) instead of JavaScript's backtracking RegExp, and every evaluation is metered (see
 * {@link CostMeter}): comprehensions, operators and function calls are charged by the size of
 * what they work on, and an evaluation over its budget fails, so a decision denies.
 */
import { Environment } from '@marcbachmann/cel-js';
import type { ASTNode, ParseResult } from '@marcbachmann/cel-js';
import { RE2JS } from 're2js';
import { AuditError } from '../errors.js';

/**
 * The variables a condition can read; see docs/policy.md "CEL variables". Any other name fails
 * when the bundle loads.
 *
 * @example
 * CONDITION_VARIABLES.includes('params'); // true
 */
export const CONDITION_VARIABLES = [
  'action',
  'params',
  'actor',
  'tenant',
  'environment',
  'delegation',
  'context',
  'risk_level',
  'metadata',
  'session_id',
  'run_id',
] as const;

export type ConditionVariables = Record<(typeof CONDITION_VARIABLES)[number], unknown>;

/** A compiled condition. */
export interface CompiledCondition {
  readonly expression: string;
  readonly program: ParseResult;
}

/** Why a condition failed to compile; `offset` is where in the expression, when known. */
export interface ConditionCompileError {
  readonly message: string;
  readonly offset?: number;
}

/** Bounds a condition's size: policy text is operator input, but still input. */
export const MAX_CONDITION_LENGTH = 4096;

const environments = new Map<string, Environment>();

// Building an Environment is the expensive part of cel-js; one per variable set serves every
// bundle. Variables are declared (as dyn: events are JSON) so a misspelt name fails at load, not
// at 3 a.m.
function celEnvironment(variables: readonly string[]): Environment {
  const key = variables.join(',');
  let env = environments.get(key);
  if (env === undefined) {
    env = new Environment({ unlistedVariablesAreDyn: false });
    for (const name of variables) env.registerVariable(name, 'dyn');
    environments.set(key, env);
  }
  return env;
}

function summaryOf(error: unknown): { message: string; offset?: number } {
  if (error instanceof Error) {
    const e = error as Error & { summary?: unknown; range?: { start?: unknown } };
    const message =
      typeof e.summary === 'string' && e.summary !== '' ? e.summary : (e.message.split('\n')[0] ?? '');
    const start = e.range?.start;
    return typeof start === 'number' ? { message, offset: start } : { message };
  }
  return { message: String(error) };
}

/**
 * Parses and type-checks a condition. The result type must be `bool` (or `dyn`, checked again at
 * run time). `variables` are the names it may read (default: a policy's, {@link CONDITION_VARIABLES};
 * the detectors' custom rules read `event` and `stats`).
 *
 * @example
 * const c = compileCondition("params.amount > 500.0 || actor.trust_tier != 'trusted'");
 * if ('program' in c) runCondition(c, vars); // true | false | 'error text'
 */
export function compileCondition(
  expression: string,
  variables: readonly string[] = CONDITION_VARIABLES,
): CompiledCondition | ConditionCompileError {
  if (expression.length > MAX_CONDITION_LENGTH) {
    return { message: `expression longer than ${MAX_CONDITION_LENGTH} characters` };
  }
  if (expression.trim() === '') return { message: 'expression is empty' };
  let program: ParseResult;
  try {
    program = celEnvironment(variables).parse(expression);
  } catch (error) {
    return summaryOf(error);
  }
  const checked = program.check();
  if (!checked.valid) return summaryOf(checked.error);
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return { message: `expression must evaluate to bool, not ${checked.type ?? 'unknown'}` };
  }
  instrument(program.ast);
  return { expression, program };
}

/** The reason a condition over its budget fails with. */
export const BUDGET_EXCEEDED = 'condition exceeded its budget';

/**
 * Cost units one decision may spend on CEL, all its conditions together. A comprehension costs
 * one unit per element it ranges over (charged before it runs, as if it visited all), an
 * operator or function call one unit plus one per list element and per 16 string characters of
 * its operands, `matches()` one per 8 characters of text and per pattern character. About
 * 0.1-0.3 µs of work per unit: the budget holds a decision's CEL to a few milliseconds, and
 * leaves room for, e.g., a check of every element of a 1,000-element list.
 */
export const DEFAULT_COST_BUDGET = 5_000;

class BudgetExceeded extends AuditError {
  constructor() {
    super('policy_invalid', BUDGET_EXCEEDED);
  }
}

// One instance, thrown again and again: after an overrun, loops already running end by throwing
// at each step, and building a new Error each time would be most of their cost.
const OVERRUN = new BudgetExceeded();

/**
 * The CEL budget of one decision. Deterministic: the same bundle and input spend the same units,
 * whatever the machine's load, so a decision never depends on timing.
 *
 * @example
 * const meter = new CostMeter(DEFAULT_COST_BUDGET);
 * runCondition(cond, vars, meter); // 'condition exceeded its budget' once spent
 */
export class CostMeter {
  #left: number;
  constructor(budget: number = DEFAULT_COST_BUDGET) {
    this.#left = budget;
  }
  /** True once an evaluation went over the budget. */
  get exhausted(): boolean {
    return this.#left < 0;
  }
  /** Spends `units`; throws once the budget is gone. */
  charge(units: number): void {
    this.#left -= units;
    // Errors inside `exists()` are swallowed by CEL's error semantics; an exhausted meter throws
    // again at every later charge, so a swallowed overrun stops the remaining work quickly, and
    // runCondition reports it whatever the result.
    if (this.#left < 0) throw OVERRUN;
  }
}

// The meter of the evaluation in progress. evaluate() is synchronous, so one slot suffices.
let activeMeter: CostMeter | null = null;

function charge(units: number): void {
  if (activeMeter !== null) activeMeter.charge(units);
}

function sizeCost(v: unknown): number {
  if (typeof v === 'string') return v.length >>> 4;
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map || v instanceof Set) return v.size;
  return 0;
}

function elementCount(v: unknown): number {
  if (Array.isArray(v)) return v.length;
  if (v instanceof Map || v instanceof Set) return v.size;
  if (typeof v === 'object' && v !== null) {
    let n = 0;
    for (const key in v) if (Object.hasOwn(v, key)) n++;
    return n;
  }
  return 0;
}

const BINARY_OPERATORS = new Set(['==', '!=', '<', '<=', '>', '>=', '+', '-', '*', '/', '%', 'in', '[]']);

// The library's AST after type-checking: each node carries the `handle` its evaluation calls
// (cel-js 8) with at most four arguments; metering and RE2 are put in by wrapping those handles,
// once, at load (fixed arity: a rest parameter would allocate an array per operation).
type Handle = (...args: unknown[]) => unknown;
interface InternalNode {
  op: string;
  args: unknown;
  handle?: Handle;
  readonly meta?: { macro?: unknown; alternate?: unknown };
}

function isNode(v: unknown): v is InternalNode {
  return typeof v === 'object' && v !== null && typeof (v as { op?: unknown }).op === 'string' && 'args' in v;
}

function instrument(root: ASTNode): void {
  const seen = new Set<unknown>();
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const item = stack.pop();
    if (typeof item !== 'object' || item === null || seen.has(item)) continue;
    seen.add(item);
    if (Array.isArray(item)) {
      stack.push(...(item as unknown[]));
      continue;
    }
    if (!isNode(item)) {
      // A comprehension's arguments: the range, the accumulator's start and the loop step.
      const c = item as ComprehensionArgs;
      stopWhenSpent(c);
      stack.push(c.iterable, c.init, c.step);
      continue;
    }
    wrap(item);
    stack.push(item.meta?.macro, item.meta?.alternate, item.args);
  }
}

// cel-js 8's comprehension arguments. `condition` is asked before each step whether to go on.
interface ComprehensionArgs {
  iterable?: unknown;
  init?: unknown;
  step?: unknown;
  errorsAreFatal?: boolean;
  condition?: unknown;
}

// `all()` and `exists()` swallow a step's error and go on with the next element (CEL's error
// semantics), so after an overrun every remaining element would throw again: 400 elements nested
// three deep is 160,000 throws. Their loop asks `condition` before each step: once the budget is
// spent it says stop, and the loop ends after one throw. The result is thrown away anyway:
// runCondition reports the overrun whatever the value.
function stopWhenSpent(c: ComprehensionArgs): void {
  const condition = c.condition;
  if (c.errorsAreFatal !== false || typeof condition !== 'function') return;
  const goOn = condition as (accu: unknown) => boolean;
  c.condition = (accu: unknown): boolean => activeMeter?.exhausted !== true && goOn(accu);
}

function wrap(node: InternalNode): void {
  const handle = node.handle;
  if (typeof handle !== 'function') return;
  if (node.op === 'comprehension') {
    node.handle = (items, b, c, d) => {
      // Counting a map's keys costs as much as the loop would: not once the budget is gone.
      if (activeMeter?.exhausted === true) throw OVERRUN;
      charge(1 + elementCount(items));
      return handle(items, b, c, d);
    };
  } else if (node.op === 'rcall' && isMatchesCall(node)) {
    node.handle = (args) => {
      const [text, pattern] = args as unknown[];
      if (typeof text !== 'string' || typeof pattern !== 'string') {
        throw new AuditError(
          'policy_invalid',
          'found no matching overload for matches(): it takes a string and a string',
        );
      }
      return regexTest(pattern, text);
    };
  } else if (node.op === 'call' || node.op === 'rcall') {
    node.handle = (args, b, c, d) => {
      let units = 1;
      for (const a of args as unknown[]) units += sizeCost(a);
      charge(units);
      return handle(args, b, c, d);
    };
  } else if (BINARY_OPERATORS.has(node.op)) {
    node.handle = (left, right, c, d) => {
      charge(1 + sizeCost(left) + sizeCost(right));
      return handle(left, right, c, d);
    };
  }
}

function isMatchesCall(node: InternalNode): boolean {
  const args = node.args;
  return Array.isArray(args) && args[0] === 'matches' && Array.isArray(args[2]) && args[2].length === 1;
}

// Compiled patterns, most of them constants of the bundle. Bounded: patterns can come from events.
// The cache only saves time: what is charged does not depend on it.
const regexCache = new Map<string, RE2JS>();
const REGEX_CACHE_SIZE = 256;

/** Patterns whose program would be larger are refused (RE2 itself allows far more). */
export const MAX_REGEX_SIZE = 2_000;

/**
 * An upper bound on the size of the RE2 program for `pattern`, from its text alone: each atom
 * counts 1, a counted repetition multiplies what it repeats, groups nest. RE2 runs in
 * O(text × program), so this is what a match is charged by, before anything is compiled.
 */
export function regexSizeEstimate(pattern: string): number {
  // Per open group: its size so far and the size of its last atom (what a quantifier repeats).
  const stack: { size: number; last: number }[] = [{ size: 0, last: 0 }];
  let top = stack[0] as { size: number; last: number };
  const atom = (n: number): void => {
    top.size += n;
    top.last = n;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      atom(1);
    } else if (c === '[') {
      // A class is one instruction; skip to its end (`]` first in a class is literal).
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      i = j;
      atom(1);
    } else if (c === '(') {
      top = { size: 0, last: 0 };
      stack.push(top);
    } else if (c === ')' && stack.length > 1) {
      const inner = (stack.pop() as { size: number; last: number }).size + 2;
      top = stack[stack.length - 1] as { size: number; last: number };
      atom(inner);
    } else if (c === '{') {
      const m = /^\{(\d{1,7})(?:,(\d{0,7}))?\}/.exec(pattern.slice(i, i + 18));
      if (m === null) {
        atom(1);
        continue;
      }
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[2] === '' ? min + 1 : Number(m[2]);
      const times = Math.max(min, max, 1);
      top.size += top.last * (times - 1) + 1;
      top.last *= times;
      i += m[0].length - 1;
    } else if (c === '*' || c === '+' || c === '?' || c === '|') {
      top.size += 2;
    } else atom(1);
  }
  return stack.reduce((n, g) => n + g.size, 0) + 2;
}

// `text.matches(pattern)`: CEL's RE2 semantics (unanchored search), linear in the text.
function regexTest(pattern: string, text: string): boolean {
  const size = regexSizeEstimate(pattern);
  if (size > MAX_REGEX_SIZE) {
    throw new AuditError(
      'policy_invalid',
      `regular expression too large (program of about ${size} instructions, limit ${MAX_REGEX_SIZE})`,
    );
  }
  // Compiling costs about the program's size; matching, the text times the program, in units of
  // 64 instruction steps.
  charge(1 + size + Math.ceil((text.length * size) / 64));
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      re = RE2JS.compile(pattern);
    } catch {
      const shown = pattern.length > 200 ? `${pattern.slice(0, 200)}…` : pattern;
      throw new AuditError('policy_invalid', `Invalid regular expression: ${shown}`);
    }
    if (regexCache.size >= REGEX_CACHE_SIZE) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re.test(text);
}

/**
 * Runs a compiled condition: `true` / `false`, or the error text when it failed (missing field,
 * type error, non-boolean result). Never throws.
 *
 * @example
 * runCondition(cond, { ...vars, params: {} }); // 'No such key: amount'
 */
export function runCondition(
  condition: CompiledCondition,
  variables: ConditionVariables | Readonly<Record<string, unknown>>,
  meter: CostMeter = new CostMeter(),
): boolean | string {
  if (meter.exhausted) return BUDGET_EXCEEDED;
  let value: unknown;
  // A failing condition is an expected outcome here (it becomes a deny with its message), and
  // capturing a stack trace would cost more than the whole evaluation: turn it off for the call.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const outer = activeMeter;
  activeMeter = meter;
  try {
    value = condition.program(variables);
  } catch (error) {
    if (meter.exhausted) return BUDGET_EXCEEDED;
    return summaryOf(error).message || 'condition failed';
  } finally {
    activeMeter = outer;
    Error.stackTraceLimit = stackTraceLimit;
  }
  // An overrun inside `exists()` may have been swallowed by CEL's error semantics.
  if (meter.exhausted) return BUDGET_EXCEEDED;
  if (typeof value === 'boolean') return value;
  return `condition returned ${describe(value)}, not a bool`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return 'an int';
  if (typeof value === 'number') return 'a double';
  if (typeof value === 'string') return 'a string';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}
