// A scripted model server for tests: one HTTP server that speaks the three wire protocols the
// agents Bosun runs use (OpenAI Chat Completions, OpenAI Responses, Anthropic Messages), streamed
// or not, and answers each model request with the next turn of a script. It lets the real Codex
// and Claude Code CLIs, and SDK-style clients, run end to end with no model provider.
//
// Pointing the agents at it (`url` is http://127.0.0.1:PORT):
// - OpenAI SDK / Chat Completions clients: base URL `${url}/v1`, `Authorization: Bearer <apiKey>`.
// - Codex: a `[model_providers.<id>]` with `base_url = "${url}/v1"`, `wire_api = "responses"`
//   (newer Codex knows no other) and `env_key`; it POSTs `/v1/responses` with `stream: true`.
// - Claude Code: `ANTHROPIC_BASE_URL=${url}` with ANTHROPIC_API_KEY (sent as `x-api-key`) or
//   ANTHROPIC_AUTH_TOKEN (sent as `Authorization: Bearer`); it POSTs `/v1/messages?beta=true`.
//
// Tool names and input shapes a script must use, as found in each agent's source (and, for the
// versions docker/agent-clis pins, as seen running: test/e2e/codex-agent.test.ts and
// claude-agent.test.ts):
// - builtin (agents/builtin-agent.mjs): `list_files`, `read_file`, `search`, `write_file`,
//   `replace_in_file`, `run_command`, `finish`, over Chat Completions.
// - Codex (openai/codex, codex-rs/core/src/tools/spec.rs): which shell tool is *offered* depends
//   on version, model and features: `exec_command` {cmd: string, workdir?, yield_time_ms?, …} with
//   `write_stdin` when the `unified_exec` feature is on (the default off Windows in recent
//   versions); else the model's shell type (codex-rs/core/src/models_manager/model_info.rs):
//   `shell` {command: string[], workdir?, timeout_ms?} for unknown model slugs,
//   `shell_command` {command: string, workdir?, login?, timeout_ms?} for gpt-5.x-codex, the
//   built-in `local_shell` for codex-mini. Whatever is offered, `build_specs` always registers
//   handlers for `shell`, `container.exec`, `local_shell` and `shell_command` ("so older prompts
//   remain compatible"), so `{ name: "shell", input: { command: ["bash", "-lc", "…"] } }` works
//   with every Codex: it goes out as a `function_call` whose arguments Codex parses as
//   `ShellToolCallParams` (codex-rs/protocol/src/models.rs). Others: `apply_patch` (a `custom`
//   free-form tool whose input is the patch text, or a function {input}), `update_plan`
//   {plan: [{step, status}], explanation?}, `view_image` {path}. Results come back as
//   `function_call_output` {call_id, output} (output a string or a list of `input_text` parts).
//   Seen with the pinned Codex 0.169 and a model slug it does not know: it offers `exec_command`,
//   `write_stdin`, `request_user_input`, `view_image`, `multi_agent_v1` and the goal tools, and no
//   longer handles `shell` (it answers "unsupported call: shell"): use `exec_command` {cmd}, whose
//   output reads "… Process exited with code N … Output:\n…". A `cmd` that runs
//   `apply_patch <<'EOF' … EOF` is applied by Codex itself (a `file_change` in its events), and
//   answers "Success. Updated the following files: …".
// - Claude Code (@anthropic-ai/claude-code, tool input schemas in its sdk-tools.d.ts): `Bash`
//   {command, timeout?, description?, run_in_background?}, `Read` {file_path, offset?, limit?},
//   `Write` {file_path, content}, `Edit` {file_path, old_string, new_string, replace_all?},
//   `Glob` {pattern, path?}, `Grep` {pattern, path?, glob?, output_mode?, …}, `TodoWrite`
//   {todos: [{content, status, activeForm}]}, `WebFetch` {url, prompt}, `WebSearch` {query}, and
//   `Task`/`Agent` {description, prompt, subagent_type}. Results come back as `tool_result` blocks.
//   `Edit` refuses a file the session has not `Read` first. In `-p` runs of the pinned version no
//   side request (below) reached the server; its one other request went to its vendor's own API
//   host, which CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 (as agents/claude-agent.mjs runs it)
//   turns off. Codex's other requests (its plugin catalogue, analytics) also go to its vendor's
//   hosts, never here; agents/codex-agent.mjs turns them off.
//
// Requests that answer no script turn:
// - `POST /v1/messages/count_tokens` gets an estimated `{input_tokens}`.
// - Claude Code's side requests: besides its main loop (which always offers tools) Claude Code
//   sends small requests of its own with `tools` absent or `[]` (a `max_tokens: 1` "quota" check,
//   topic/title detection with a Haiku model and a prefilled "{", summaries). The rule: a
//   Messages request from Claude Code (User-Agent `claude-cli/…` or `x-app: cli`) that offers no
//   tools gets a canned answer ("not a new topic" JSON, a short title, or "OK") and is recorded in
//   `sideRequests`, not `requests`.
// - `GET /v1/models` lists the model ids (OpenAI's list shape, Anthropic's when the request has
//   `anthropic-version`; Codex's `{models: []}` when it asks with `?client_version=`).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { openaiError, parseChat, renderChat } from "./chat.ts";
import { anthropicError, countTokens, parseMessages, renderMessages, systemText } from "./messages.ts";
import type { ParsedRequest, Reply } from "./protocol.ts";
import { BadRequest, estimateTokens, isRecord, makeId, nowSeconds, sseHeaders, textOf } from "./protocol.ts";
import { parseResponses, renderResponses } from "./responses.ts";

export interface ScriptedTurn {
  /** Optional check of the request this turn answers (the last user/tool message text, the tools offered); a failed check answers 400 with a clear message and is recorded as a problem. */
  expect?: (req: ModelRequest) => string | null; // null = ok, else the problem
  /** What the model says (assistant text). */
  say?: string;
  /** Tool calls the model makes in this turn, in the agent's own tool names and input shapes. */
  tools?: { name: string; input: Record<string, unknown> }[];
  usage?: { input_tokens: number; output_tokens: number }; // sensible defaults when absent
  /** Faults: answer HTTP status with an error body in the provider's error shape; never answer (stall) until the client gives up or the server closes; answer bytes that are not the protocol. */
  fault?: { status: number; message?: string } | "stall" | "nonsense";
}

export interface ModelRequest {
  api: "chat" | "responses" | "messages";
  model: string;
  stream: boolean;
  /** Text of the last user message (for Messages, the last one with text besides tool results). */
  lastUserText: string;
  /** Tool results answering the model's latest tool calls, in order. */
  toolResults: { id: string; content: string }[];
  /** Names of the tools offered (built-in Responses tools such as `local_shell` by type). */
  toolNames: string[];
  raw: unknown;
  /** Request headers, names lower-cased. */
  headers: Record<string, string>;
}

export interface StartOptions {
  script: ScriptedTurn[];
  host?: string;
  port?: number;
  /** When set, requests without it (Authorization: Bearer for OpenAI, x-api-key or Authorization for Anthropic) get 401 in the provider's shape. */
  apiKey?: string;
  /** Model ids `GET /v1/models` lists (with any a request has named); default `["scripted-model"]`. */
  models?: string[];
}

type Api = ModelRequest["api"];
type Provider = "openai" | "anthropic";

const endText = "(script ended)";

export class ScriptedModelServer {
  readonly url: string;
  /** Every request that consumed a script turn (or came after the script's end), in order. */
  readonly requests: ModelRequest[] = [];
  /** Requests answered without a turn: token counts and Claude Code's own side requests. */
  readonly sideRequests: ModelRequest[] = [];
  /** Expectation failures, requests past the end of the script, malformed or unauthenticated requests, unknown endpoints. */
  readonly problems: string[] = [];
  readonly #server: Server;
  readonly #script: ScriptedTurn[];
  readonly #apiKey: string | undefined;
  readonly #models: Set<string>;
  /** Which turn issued each Responses call id, to tell turns apart in Codex's flat input list. */
  readonly #callTurns = new Map<string, number>();
  readonly #stalled = new Set<ServerResponse>();
  #next = 0;

  private constructor(server: Server, url: string, o: StartOptions) {
    this.#server = server;
    this.url = url;
    this.#script = o.script;
    this.#apiKey = o.apiKey;
    this.#models = new Set(o.models ?? ["scripted-model"]);
  }

  static async start(o: StartOptions): Promise<ScriptedModelServer> {
    const started: { self?: ScriptedModelServer } = {};
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const s = started.self;
      // Only a client that guessed the port can get here before `start` has returned.
      if (s === undefined) return void res.writeHead(503).end();
      s.#handle(req, res).catch((err: unknown) => {
        s.problems.push(`internal error on ${req.method} ${req.url}: ${String(err)}`);
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end();
      });
    });
    const host = o.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(o.port ?? 0, host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const self = new ScriptedModelServer(server, `http://${host.includes(":") ? `[${host}]` : host}:${port}`, o);
    started.self = self;
    return self;
  }

  /** Stops listening and drops every connection, stalled answers included. */
  async close(): Promise<void> {
    for (const res of this.#stalled) res.destroy();
    this.#stalled.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://model.invalid");
    const path = url.pathname.replace(/\/+$/, "");
    const method = req.method ?? "GET";
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
    const provider: Provider = path.startsWith("/v1/messages") || (!path.startsWith("/v1/chat") && !path.startsWith("/v1/responses") && "anthropic-version" in headers) ? "anthropic" : "openai";
    const raw = await readBody(req);
    const where = `${method} ${url.pathname}`;

    if (!this.#authorized(provider, headers)) {
      this.problems.push(`${where}: 401, no valid API key`);
      this.#error(res, provider, 401, provider === "openai" ? "Incorrect API key provided. You can find your API key at the provider's dashboard." : "invalid x-api-key");
      return;
    }
    if (method === "GET" && path === "/v1/models") {
      this.#listModels(res, provider, url);
      return;
    }
    const api: Api | "count_tokens" | null = method !== "POST" ? null
      : path === "/v1/chat/completions" ? "chat" : path === "/v1/responses" ? "responses"
        : path === "/v1/messages" ? "messages" : path === "/v1/messages/count_tokens" ? "count_tokens" : null;
    if (api === null) {
      this.problems.push(`${where}: no such endpoint`);
      this.#error(res, provider, 404, `Unknown request URL: ${where}.`);
      return;
    }

    let body: Record<string, unknown>;
    let parsed: ParsedRequest;
    try {
      let json: unknown;
      try {
        json = JSON.parse(raw.toString("utf8"));
      } catch {
        throw new BadRequest("the body is not valid JSON");
      }
      if (!isRecord(json)) throw new BadRequest("the body must be a JSON object");
      body = json;
      parsed = api === "chat" ? parseChat(body)
        : api === "responses" ? parseResponses(body, (id) => this.#callTurns.get(id))
          : parseMessages(body, { requireMaxTokens: api === "messages" });
    } catch (err) {
      if (!(err instanceof BadRequest)) throw err;
      this.problems.push(`${where}: malformed request: ${err.message}`);
      this.#error(res, provider, 400, err.message);
      return;
    }
    const request: ModelRequest = { api: api === "count_tokens" ? "messages" : api, ...parsed, raw: body, headers };
    this.#models.add(parsed.model);

    if (api === "count_tokens") {
      this.sideRequests.push(request);
      this.#json(res, provider, 200, countTokens(body));
      return;
    }
    if (api === "messages" && isClaudeCodeSideRequest(headers, body)) {
      this.sideRequests.push(request);
      this.#render(res, request, body, { text: claudeCodeSideAnswer(body), calls: [], usage: { input_tokens: estimateTokens(raw.toString("utf8")), output_tokens: 5 } }, -1);
      return;
    }

    const index = this.#next++;
    this.requests.push(request);
    const turn = this.#script[index];
    const label = `turn ${index + 1} (${api})`;
    if (turn === undefined) {
      this.problems.push(`request ${index + 1} (${api}) came after the end of the script (${this.#script.length} turns)`);
      this.#render(res, request, body, { text: endText, calls: [], usage: { input_tokens: estimateTokens(raw.toString("utf8")), output_tokens: estimateTokens(endText) } }, index);
      return;
    }
    if (turn.expect) {
      let problem: string | null;
      try {
        problem = turn.expect(request);
      } catch (err) {
        problem = `the expectation threw: ${String(err)}`;
      }
      if (problem !== null) {
        this.problems.push(`${label}: ${problem}`);
        this.#error(res, provider, 400, `scripted model: ${label} did not get the request it expected: ${problem}`);
        return;
      }
    }
    if (turn.fault === "stall") {
      // Never answer; `close()` drops the connection if the client has not given up first.
      this.#stalled.add(res);
      res.on("close", () => this.#stalled.delete(res));
      return;
    }
    if (turn.fault === "nonsense") {
      res.writeHead(200, parsed.stream ? sseHeaders : { "content-type": "application/json" });
      res.end("<html><body>502 Bad Gateway</body></html>\n\u0000\u00ff not the protocol {{{\n");
      return;
    }
    if (turn.fault) {
      this.#error(res, provider, turn.fault.status, turn.fault.message ?? `scripted fault: HTTP ${turn.fault.status}`);
      return;
    }
    const calls = turn.tools ?? [];
    const usage = turn.usage ?? {
      input_tokens: estimateTokens(raw.toString("utf8")),
      output_tokens: estimateTokens((turn.say ?? "") + calls.map((c) => c.name + JSON.stringify(c.input)).join("")),
    };
    this.#render(res, request, body, { text: turn.say ?? null, calls, usage }, index);
  }

  #render(res: ServerResponse, request: ModelRequest, body: Record<string, unknown>, reply: Reply, turn: number): void {
    if (request.api === "chat") renderChat(res, reply, request, body, this.#requestIdHeader("openai"));
    else if (request.api === "messages") renderMessages(res, reply, request, this.#requestIdHeader("anthropic"));
    else for (const id of renderResponses(res, reply, request, body, this.#requestIdHeader("openai"))) this.#callTurns.set(id, turn);
  }

  #authorized(provider: Provider, headers: Record<string, string>): boolean {
    if (this.#apiKey === undefined) return true;
    if (headers.authorization === `Bearer ${this.#apiKey}`) return true;
    return provider === "anthropic" && headers["x-api-key"] === this.#apiKey;
  }

  #listModels(res: ServerResponse, provider: Provider, url: URL): void {
    const ids = [...this.#models];
    if (url.searchParams.has("client_version")) {
      // Codex's own model catalogue endpoint (codex-rs/codex-api/src/endpoint/models.rs): an empty
      // `models` list leaves it on its built-in metadata for the configured model.
      this.#json(res, provider, 200, { models: [] });
    } else if (provider === "anthropic") {
      const data = ids.map((id) => ({ type: "model", id, display_name: id, created_at: "2025-01-01T00:00:00Z" }));
      this.#json(res, provider, 200, { data, has_more: false, first_id: ids[0] ?? null, last_id: ids.at(-1) ?? null });
    } else {
      this.#json(res, provider, 200, { object: "list", data: ids.map((id) => ({ id, object: "model", created: nowSeconds(), owned_by: "bosun-tests" })) });
    }
  }

  #requestIdHeader(provider: Provider): Record<string, string> {
    return provider === "openai" ? { "x-request-id": makeId("req_", 32) } : { "request-id": makeId("req_011", 24) };
  }

  #json(res: ServerResponse, provider: Provider, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json", ...this.#requestIdHeader(provider) });
    res.end(JSON.stringify(body));
  }

  #error(res: ServerResponse, provider: Provider, status: number, message: string): void {
    const headers = this.#requestIdHeader(provider);
    const body = provider === "openai" ? openaiError(status, message) : anthropicError(status, message, Object.values(headers)[0] ?? "");
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(body));
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Claude Code's own small requests: from its CLI and offering no tools (its main loop always offers some). */
function isClaudeCodeSideRequest(headers: Record<string, string>, body: Record<string, unknown>): boolean {
  const fromClaudeCode = (headers["user-agent"] ?? "").startsWith("claude-cli/") || headers["x-app"] === "cli";
  return fromClaudeCode && (!Array.isArray(body.tools) || body.tools.length === 0);
}

/**
 * A harmless answer to a Claude Code side request: topic detection (its system prompt asks
 * whether the message "indicates a new conversation topic", with the answer prefilled by "{")
 * hears "no"; a title request gets a short title; anything else, such as the quota check, "OK".
 */
function claudeCodeSideAnswer(body: Record<string, unknown>): string {
  const system = systemText(body);
  const messages = Array.isArray(body.messages) ? body.messages.filter(isRecord) : [];
  const last = messages.at(-1);
  const prefill = last?.role === "assistant" ? textOf(last.content) : "";
  let answer = "OK";
  if (/new conversation topic/i.test(system)) answer = '{"isNewTopic": false, "title": null}';
  else if (/\btitle\b/i.test(system)) answer = "Scripted session";
  // A prefilled answer is continued, not repeated.
  return prefill !== "" && answer.startsWith(prefill) ? answer.slice(prefill.length) : answer;
}
