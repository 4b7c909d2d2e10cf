// What every part of `npm run bench` shares: figures (samples with their statistics, and the floor
// each is compared with), clean-ups, and timing.

export interface Figure {
  /** What was measured, in words. */
  name: string;
  unit: string;
  samples: number[];
  /** The name of the figure measured in the same run that this one is compared with. */
  floor?: string;
  /** What the ratio to the floor means, when there is one. */
  note?: string;
}

export interface Stats { n: number; min: number; median: number; p95: number; p99: number; max: number }

/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

export function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, min: s[0] ?? NaN, median: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN };
}

export async function time(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Clean-ups registered while a part runs, run last first when it ends (the shape of node:test's `t.after`). */
export class CleanUps {
  readonly #fns: (() => Promise<void>)[] = [];

  after(fn: () => Promise<void>): void {
    this.#fns.push(fn);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const fn of this.#fns.splice(0).reverse()) await fn().catch((e: unknown) => errors.push(e));
    if (errors.length) throw new AggregateError(errors, `${errors.length} clean-up(s) failed: ${errors.map(String).join("; ")}`);
  }
}

/** Runs `body` with its own clean-ups, which run even when it throws. */
export async function withCleanUps<T>(body: (c: CleanUps) => Promise<T>): Promise<T> {
  const c = new CleanUps();
  try {
    return await body(c);
  } finally {
    await c.run();
  }
}
