// The REST plumbing shared by every route: matching OpenAPI path templates, errors in GitHub's
// shape, pagination links, rate-limit headers and injected faults.
import type { IncomingMessage } from "node:http";

export const docsBase = "https://docs.github.com/rest";

export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;
  constructor(status: number, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.extra = extra;
    this.headers = headers;
  }
  body(): Record<string, unknown> {
    return { message: this.message, documentation_url: docsBase, status: String(this.status), ...this.extra };
  }
}

/**
 * 422 with GitHub's `errors` list: objects (`resource`, `field`, `code`) for most endpoints, plain
 * strings for those documented with `validation-error-simple` (reviews, for one).
 */
export function validationFailed(message: string, errors: Record<string, unknown>[] | string[] = []): HttpError {
  return new HttpError(422, message, { errors });
}

export interface Reply {
  status: number;
  body?: unknown;
  /** Raw bytes (for `application/vnd.github.raw`), sent as is and not validated as JSON. */
  raw?: Buffer;
  headers?: Record<string, string>;
}

export interface RouteMatch<P> {
  route: P;
  params: Record<string, string>;
}

/** Matches a request path against OpenAPI path templates such as `/repos/{owner}/{repo}/contents/{path}`. */
export class Router<P extends { method: string; path: string }> {
  #compiled: { route: P; re: RegExp; names: string[] }[] = [];

  add(route: P): void {
    const names: string[] = [];
    const re = route.path.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name);
      // `path` and `ref` may contain slashes, as on GitHub.
      return name === "path" || name === "ref" ? "(.*)" : "([^/]+)";
    });
    this.#compiled.push({ route, re: new RegExp(`^${re}$`), names });
  }

  get routes(): P[] {
    return this.#compiled.map((c) => c.route);
  }

  match(method: string, pathname: string): RouteMatch<P> | "method-not-allowed" | null {
    let pathMatched = false;
    for (const c of this.#compiled) {
      const m = c.re.exec(pathname);
      if (!m) continue;
      pathMatched = true;
      if (c.route.method !== method) continue;
      const params: Record<string, string> = {};
      c.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1] ?? "")));
      return { route: c.route, params };
    }
    return pathMatched ? "method-not-allowed" : null;
  }
}

export async function readBody(req: IncomingMessage, limit = 25 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new HttpError(413, "Payload too large");
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Slices a list the way GitHub does (`per_page` up to 100, `page` from 1) and builds the `link` header. */
export function paginate<T>(url: URL, items: T[]): { page: T[]; link: string | null } {
  const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get("per_page") ?? 30) || 30));
  const page = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const at = (p: number): string => {
    const u = new URL(url);
    u.searchParams.set("per_page", String(perPage));
    u.searchParams.set("page", String(p));
    return u.toString();
  };
  const links: string[] = [];
  if (page < last) links.push(`<${at(page + 1)}>; rel="next"`, `<${at(last)}>; rel="last"`);
  if (page > 1) links.push(`<${at(1)}>; rel="first"`, `<${at(page - 1)}>; rel="prev"`);
  return { page: items.slice((page - 1) * perPage, page * perPage), link: links.length ? links.join(", ") : null };
}

export interface FaultPlan {
  /** Answer this many API calls (or this fraction of them) with a 5xx. */
  serverErrors?: { count?: number; rate?: number; status?: number };
  /** Answer this many API calls with GitHub's secondary rate limit (403 and `retry-after`). */
  secondaryRateLimit?: { count: number; retryAfterSeconds?: number };
  /** Delay every API answer by this long. */
  latencyMs?: number;
  /** Only calls whose `METHOD /path` matches are affected. */
  match?: RegExp;
  /** Seed for the fraction-based choice, so a run is repeatable. */
  seed?: number;
}

export interface InjectedFault {
  at: Date;
  method: string;
  path: string;
  kind: "server-error" | "secondary-rate-limit";
  status: number;
}

/** Decides, per call, whether a fault is injected; counts what it did so tests can assert retries happened. */
export class Faults {
  plan: FaultPlan = {};
  readonly injected: InjectedFault[] = [];
  #rng = mulberry32(1);

  set(plan: FaultPlan): void {
    this.plan = { ...plan, serverErrors: plan.serverErrors ? { ...plan.serverErrors } : undefined, secondaryRateLimit: plan.secondaryRateLimit ? { ...plan.secondaryRateLimit } : undefined };
    this.#rng = mulberry32(plan.seed ?? 1);
  }

  clear(): void {
    this.plan = {};
  }

  pick(method: string, path: string): HttpError | null {
    const p = this.plan;
    if (p.match && !p.match.test(`${method} ${path}`)) return null;
    const srl = p.secondaryRateLimit;
    if (srl && srl.count > 0) {
      srl.count--;
      const retryAfter = srl.retryAfterSeconds ?? 1;
      this.injected.push({ at: new Date(), method, path, kind: "secondary-rate-limit", status: 403 });
      return new HttpError(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.", {}, { "retry-after": String(retryAfter) });
    }
    const se = p.serverErrors;
    if (se) {
      const byCount = se.count !== undefined && se.count > 0;
      const byRate = se.rate !== undefined && this.#rng() < se.rate;
      if (byCount || byRate) {
        if (byCount && se.count !== undefined) se.count--;
        const status = se.status ?? 502;
        this.injected.push({ at: new Date(), method, path, kind: "server-error", status });
        return new HttpError(status, status === 502 ? "Server Error" : "Service Unavailable");
      }
    }
    return null;
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
