/**
 * CEL conditions (`when:`): compiled and type-checked once when a bundle loads, run against an
 * event's variables on every evaluation. Any failure at run time is reported as text, never
 * thrown: the caller turns it into a deny (fail-closed).
 */
import { Environment } from '@marcbachmann/cel-js';
import type { ParseResult } from '@marcbachmann/cel-js';

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

let environment: Environment | undefined;

// Building an Environment is the expensive part of cel-js; one serves every bundle. Variables are
// declared (as dyn: events are JSON) so a misspelt name fails at load, not at 3 a.m.
function celEnvironment(): Environment {
  if (environment === undefined) {
    const env = new Environment({ unlistedVariablesAreDyn: false });
    for (const name of CONDITION_VARIABLES) env.registerVariable(name, 'dyn');
    environment = env;
  }
  return environment;
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
 * run time).
 *
 * @example
 * const c = compileCondition("params.amount > 500.0 || actor.trust_tier != 'trusted'");
 * if ('program' in c) runCondition(c, vars); // true | false | 'error text'
 */
export function compileCondition(expression: string): CompiledCondition | ConditionCompileError {
  if (expression.length > MAX_CONDITION_LENGTH) {
    return { message: `expression longer than ${MAX_CONDITION_LENGTH} characters` };
  }
  if (expression.trim() === '') return { message: 'expression is empty' };
  let program: ParseResult;
  try {
    program = celEnvironment().parse(expression);
  } catch (error) {
    return summaryOf(error);
  }
  const checked = program.check();
  if (!checked.valid) return summaryOf(checked.error);
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    return { message: `expression must evaluate to bool, not ${checked.type ?? 'unknown'}` };
  }
  return { expression, program };
}

/**
 * Runs a compiled condition: `true` / `false`, or the error text when it failed (missing field,
 * type error, non-boolean result). Never throws.
 *
 * @example
 * runCondition(cond, { ...vars, params: {} }); // 'No such key: amount'
 */
export function runCondition(condition: CompiledCondition, variables: ConditionVariables): boolean | string {
  let value: unknown;
  // A failing condition is an expected outcome here (it becomes a deny with its message), and
  // capturing a stack trace would cost more than the whole evaluation: turn it off for the call.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    value = condition.program(variables);
  } catch (error) {
    return summaryOf(error).message || 'condition failed';
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
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
