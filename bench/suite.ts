/**
 * The benchmark registry. Each file under `bench/cases/` registers one group of figures with
 * {@link addBenchmark}; `bench/run.ts` runs them in registration order, prints the table and
 * writes `bench/results/latest.json`.
 *
 * @example
 * addBenchmark({
 *   name: 'export',
 *   needs: ['baseline'],
 *   async run(ctx) {
 *     const perSecond = await measureExport(ctx.scale(10_000, 100_000));
 *     return [{ name: 'export.events_per_s', value: perSecond, unit: 'events/s', target: atLeast(50_000) }];
 *   },
 * });
 */

/** A pass condition on one figure. */
export interface Target {
  /** `>=`: higher is better; `<`: lower is better. */
  op: '>=' | '<';
  value: number;
  /** How the target is derived, e.g. `0.6 × baseline.batch64`. */
  basis?: string;
}

export interface BenchResult {
  /** Dotted name, unique across the suite (`ingest.events_per_s`). */
  name: string;
  value: number;
  unit: string;
  target?: Target | undefined;
  /** Short context printed beside the figure (sample size, a cause). */
  note?: string;
}

export interface BenchContext {
  /** `--quick`: smaller sizes, for CI (the whole suite under a minute). */
  readonly quick: boolean;
  /** The quick or the full size. */
  scale<T>(quick: T, full: T): T;
  /** A temporary directory for this group, removed when the group is done. */
  readonly tmpDir: string;
  /** `bench/.cache`: built fixtures kept between runs. */
  readonly cacheDir: string;
  /** `--rebuild`: ignore cached fixtures. */
  readonly rebuild: boolean;
  /** A figure produced earlier in this run (for relative targets), or undefined. */
  result(name: string): number | undefined;
  /** A fixture shared between benchmarks of one run, built on first use. */
  fixture<T>(key: string, build: () => Promise<T>): Promise<T>;
  /** Progress line on stderr (the table goes to stdout). */
  log(message: string): void;
}

export interface Benchmark {
  /** Group name; `--only <name>` selects it. */
  name: string;
  /** Groups whose figures this one's targets refer to (run first even under `--only`). */
  needs?: readonly string[];
  run(ctx: BenchContext): Promise<BenchResult[]>;
}

const registry: Benchmark[] = [];

/** Registers a benchmark group; groups run in registration order. */
export function addBenchmark(benchmark: Benchmark): void {
  if (registry.some((b) => b.name === benchmark.name))
    throw new Error(`benchmark ${benchmark.name} is registered twice`);
  registry.push(benchmark);
}

/** The registered groups, in order. */
export function benchmarks(): readonly Benchmark[] {
  return registry;
}

/** Target: the figure must be at least `value`. */
export function atLeast(value: number, basis?: string): Target {
  return basis === undefined ? { op: '>=', value } : { op: '>=', value, basis };
}

/** Target: the figure must be below `value`. */
export function below(value: number, basis?: string): Target {
  return basis === undefined ? { op: '<', value } : { op: '<', value, basis };
}

/** A target relative to an earlier figure (`factor × name`), or none when that figure is absent. */
export function relativeTo(ctx: BenchContext, name: string, factor: number): Target | undefined {
  const base = ctx.result(name);
  return base === undefined ? undefined : atLeast(base * factor, `${factor} × ${name}`);
}

/** Whether a figure meets its target. */
export function passes(r: BenchResult): boolean | null {
  if (!r.target) return null;
  return r.target.op === '>=' ? r.value >= r.target.value : r.value < r.target.value;
}

/** The `p`-quantile (0..1) of `samples` by nearest rank. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  const sorted = Float64Array.from(samples).sort();
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}

/** Milliseconds elapsed since `start` (a `performance.now()` value). */
export function since(start: number): number {
  return performance.now() - start;
}
