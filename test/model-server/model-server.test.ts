// The scripted model server over real HTTP with plain fetch, as an SDK-style client would use it:
// each API streamed and not, tool calls whose arguments arrive in pieces, tool results read back,
// usage numbers, expectations, the end of the script, faults, Claude Code's side requests and the
// API key check. (Neither the `openai` nor the `@anthropic-ai/sdk` package is installed here, so
// the streams are reassembled by hand the way those SDKs do it.)
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { ScriptedTurn, StartOptions } from "./server.ts";
import { ScriptedModelServer } from "./server.ts";
import { readSse } from "./sse.ts";

// ---- the shapes the tests read (the fields they look at) ----

interface ChatToolCall { id: string; type: string; function: { name: string; arguments: string } }
interface ChatCompletion {
  id: string; object: string; created: number; model: string;
  choices: { index: number; message: { role: string; content: string | null; tool_calls?: ChatToolCall[] }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}
interface ChatChunk {
  id: string; object: string; model: string;
  choices: { index: number; delta: { role?: string; content?: string; tool_calls?: { index: number; id?: string; type?: string; function?: { name?: string; arguments?: string } }[] }; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}
interface RItem { id: string; type: string; status: string; role?: string; content?: { type: string; text: string }[]; name?: string; arguments?: string; call_id?: string; input?: string }
interface RResponse { id: string; object: string; status: string; model: string; output: RItem[]; usage: { input_tokens: number; output_tokens: number; total_tokens: number } | null }
interface REvent { type: string; sequence_number: number; response?: RResponse; item?: RItem; output_index?: number; item_id?: string; delta?: string; arguments?: string; text?: string }
interface ABlock { type: string; text?: string; id?: string; name?: string; input?: Record<string, unknown> }
interface AMessage { id: string; type: string; role: string; model: string; content: ABlock[]; stop_reason: string | null; usage: { input_tokens: number; output_tokens: number } }
interface AEvent {
  type: string; index?: number; message?: AMessage; content_block?: ABlock;
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string };
  usage?: { input_tokens?: number; output_tokens: number };
}
interface OpenAIErrorBody { error: { message: string; type: string; param: null; code: string | null } }
interface AnthropicErrorBody { type: string; error: { type: string; message: string } }

// ---- helpers ----

async function start(t: TestContext, o: StartOptions): Promise<ScriptedModelServer> {
  const server = await ScriptedModelServer.start(o);
  t.after(() => server.close());
  return server;
}

function post(server: ScriptedModelServer, path: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body), signal });
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Data events of a stream, JSON-parsed; for named events also checks `event:` matches the payload's `type`. */
async function events<T extends { type?: string }>(res: Response, named: boolean): Promise<T[]> {
  assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
  const out: T[] = [];
  for (const e of await readSse(res)) {
    if (e.data === "[DONE]") continue;
    const data = JSON.parse(e.data) as T;
    if (named) assert.equal(e.event, data.type, "each event's name is its payload's type");
    else assert.equal(e.event, null, "Chat Completions sends no event names");
    out.push(data);
  }
  return out;
}

// A long enough input that its JSON must be split into several argument pieces.
const patchInput = { file_path: "/work/repo/src/app.ts", old_string: "const answer = 41;", new_string: "const answer = 42; // ünïcode ✓" };
const shellInput = { command: ["bash", "-lc", "npm test 2>&1 | tail -n 20"], workdir: "/work/repo", timeout_ms: 120000 };

const chatTools = [{ type: "function", function: { name: "shell", description: "run", parameters: { type: "object", properties: {} } } }];
const messagesTools = [{ name: "Bash", description: "run", input_schema: { type: "object", properties: { command: { type: "string" } } } }];

// ---- Chat Completions ----

test("chat, not streamed: text and tool calls with JSON-string arguments, finish_reason and usage", async (t) => {
  const server = await start(t, { script: [{ say: "Running the tests.", tools: [{ name: "shell", input: shellInput }, { name: "Edit", input: patchInput }], usage: { input_tokens: 120, output_tokens: 30 } }] });
  const res = await post(server, "/v1/chat/completions", { model: "gpt-test", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "fix the tests" }], tools: chatTools });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("x-request-id") ?? "", /^req_/);
  const body = await json<ChatCompletion>(res);
  assert.match(body.id, /^chatcmpl-/);
  assert.equal(body.object, "chat.completion");
  assert.equal(body.model, "gpt-test");
  assert.equal(typeof body.created, "number");
  const choice = body.choices[0];
  assert.ok(choice);
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.role, "assistant");
  assert.equal(choice.message.content, "Running the tests.");
  const calls = choice.message.tool_calls ?? [];
  assert.deepEqual(calls.map((c) => [c.type, c.function.name, JSON.parse(c.function.arguments) as unknown]), [["function", "shell", shellInput], ["function", "Edit", patchInput]]);
  for (const c of calls) assert.match(c.id, /^call_/);
  assert.deepEqual(body.usage && [body.usage.prompt_tokens, body.usage.completion_tokens, body.usage.total_tokens], [120, 30, 150]);
  const [req] = server.requests;
  assert.equal(req?.api, "chat");
  assert.equal(req.lastUserText, "fix the tests");
  assert.deepEqual(req.toolNames, ["shell"]);
  assert.equal(req.stream, false);
  assert.deepEqual(server.problems, []);
});

test("chat, streamed: deltas reassemble to the text and tool calls, arguments come in several chunks, usage chunk, [DONE]", async (t) => {
  const server = await start(t, { script: [{ say: "Let me look.", tools: [{ name: "shell", input: shellInput }, { name: "Edit", input: patchInput }], usage: { input_tokens: 7, output_tokens: 11 } }] });
  const res = await post(server, "/v1/chat/completions", { model: "gpt-test", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: [{ type: "text", text: "look around" }] }], tools: chatTools });
  assert.equal(res.status, 200);
  const text = await res.clone().text();
  assert.ok(text.trimEnd().endsWith("data: [DONE]"), "the stream ends with data: [DONE]");
  const chunks = await events<ChatChunk & { type?: string }>(res, false);
  let content = "";
  const calls: { id: string; name: string; args: string; pieces: number }[] = [];
  let finish: string | null = null;
  let usage: ChatChunk["usage"] = null;
  for (const chunk of chunks) {
    assert.equal(chunk.object, "chat.completion.chunk");
    assert.equal(chunk.model, "gpt-test");
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      content += choice.delta.content ?? "";
      finish = choice.finish_reason ?? finish;
      for (const tc of choice.delta.tool_calls ?? []) {
        // As the SDKs do: the first fragment of an index opens the call, later ones append arguments.
        const call = (calls[tc.index] ??= { id: tc.id ?? "", name: tc.function?.name ?? "", args: "", pieces: 0 });
        if (tc.function?.arguments) {
          call.args += tc.function.arguments;
          call.pieces++;
        }
      }
    }
  }
  assert.equal(chunks[0]?.choices[0]?.delta.role, "assistant");
  assert.equal(content, "Let me look.");
  assert.equal(finish, "tool_calls");
  assert.deepEqual(calls.map((c) => [c.name, JSON.parse(c.args) as unknown]), [["shell", shellInput], ["Edit", patchInput]]);
  for (const c of calls) {
    assert.match(c.id, /^call_/);
    assert.ok(c.pieces >= 3, `arguments of ${c.name} came in ${c.pieces} chunks`);
  }
  assert.deepEqual(usage && [usage.prompt_tokens, usage.completion_tokens, usage.total_tokens], [7, 11, 18]);
  assert.deepEqual(chunks.at(-1)?.choices, [], "the usage chunk has no choices");
});

test("chat, streamed without include_usage: no usage in chunks; a text answer finishes with stop", async (t) => {
  const server = await start(t, { script: [{ say: "All done." }] });
  const res = await post(server, "/v1/chat/completions", { model: "gpt-test", stream: true, messages: [{ role: "user", content: "hi" }] });
  const chunks = await events<ChatChunk & { type?: string }>(res, false);
  assert.ok(chunks.every((c) => !("usage" in c)));
  assert.equal(chunks.at(-1)?.choices[0]?.finish_reason, "stop");
  assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? "").join(""), "All done.");
});

test("chat: tool results come back as role tool messages and are read into toolResults", async (t) => {
  const server = await start(t, {
    script: [
      { tools: [{ name: "shell", input: { command: ["ls"] } }, { name: "shell", input: { command: ["pwd"] } }] },
      { expect: (r) => (r.toolResults.length === 2 ? null : `expected two results, got ${r.toolResults.length}`), say: "Two files." },
    ],
  });
  const first = await json<ChatCompletion>(await post(server, "/v1/chat/completions", { model: "m", messages: [{ role: "user", content: "list" }], tools: chatTools }));
  const calls = first.choices[0]?.message.tool_calls ?? [];
  assert.equal(first.choices[0]?.message.content, null, "a tools-only answer has null content");
  const messages = [
    { role: "user", content: "list" },
    { role: "assistant", content: null, tool_calls: calls },
    { role: "tool", tool_call_id: calls[0]?.id, content: "a.txt\nb.txt" },
    { role: "tool", tool_call_id: calls[1]?.id, content: [{ type: "text", text: "/work" }] },
  ];
  const second = await json<ChatCompletion>(await post(server, "/v1/chat/completions", { model: "m", messages, tools: chatTools }));
  assert.equal(second.choices[0]?.message.content, "Two files.");
  assert.deepEqual(server.requests[1]?.toolResults, [{ id: calls[0]?.id, content: "a.txt\nb.txt" }, { id: calls[1]?.id, content: "/work" }]);
  assert.equal(server.requests[1]?.lastUserText, "list");
  assert.deepEqual(server.problems, []);
});

// ---- Responses ----

test("responses, not streamed: a message item and function_call items with call_id, usage with total", async (t) => {
  const server = await start(t, { script: [{ say: "Checking.", tools: [{ name: "shell", input: shellInput }], usage: { input_tokens: 50, output_tokens: 5 } }] });
  const tools = [{ type: "function", name: "exec_command", parameters: { type: "object", properties: {} } }, { type: "local_shell" }];
  const res = await post(server, "/v1/responses", { model: "gpt-5-codex", input: "what is here?", tools });
  const body = await json<RResponse>(res);
  assert.match(body.id, /^resp_/);
  assert.equal(body.object, "response");
  assert.equal(body.status, "completed");
  assert.deepEqual(body.output.map((i) => i.type), ["message", "function_call"]);
  const [message, call] = body.output;
  assert.deepEqual(message?.content?.map((c) => [c.type, c.text]), [["output_text", "Checking."]]);
  assert.equal(message?.role, "assistant");
  assert.match(call?.id ?? "", /^fc_/);
  assert.match(call?.call_id ?? "", /^call_/);
  assert.equal(call?.name, "shell");
  assert.deepEqual(JSON.parse(call?.arguments ?? ""), shellInput);
  assert.deepEqual(body.usage, { input_tokens: 50, input_tokens_details: { cached_tokens: 0 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 55 });
  assert.equal(server.requests[0]?.lastUserText, "what is here?");
  assert.deepEqual(server.requests[0]?.toolNames, ["exec_command", "local_shell"]);
});

test("responses, streamed: named events in order, argument deltas reassemble, output_item.done and response.completed as Codex reads them", async (t) => {
  const server = await start(t, { script: [{ say: "On it.", tools: [{ name: "shell", input: shellInput }], usage: { input_tokens: 9, output_tokens: 3 } }] });
  const res = await post(server, "/v1/responses", {
    model: "gpt-5-codex", stream: true, store: false, instructions: "You are Codex.",
    input: [{ type: "message", role: "user", content: [{ type: "input_text", text: "run the tests" }] }],
    tools: [{ type: "function", name: "shell", parameters: { type: "object", properties: {} } }],
  });
  const evs = await events<REvent>(res, true);
  assert.deepEqual(evs.map((e) => e.sequence_number), evs.map((_, i) => i));
  assert.deepEqual(evs.map((e) => e.type), [
    "response.created", "response.in_progress",
    "response.output_item.added", "response.content_part.added",
    ...evs.filter((e) => e.type === "response.output_text.delta").map(() => "response.output_text.delta"),
    "response.output_text.done", "response.content_part.done", "response.output_item.done",
    "response.output_item.added",
    ...evs.filter((e) => e.type === "response.function_call_arguments.delta").map(() => "response.function_call_arguments.delta"),
    "response.function_call_arguments.done", "response.output_item.done",
    "response.completed",
  ]);
  assert.equal(evs[0]?.response?.status, "in_progress");
  const text = evs.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
  assert.equal(text, "On it.");
  const argDeltas = evs.filter((e) => e.type === "response.function_call_arguments.delta");
  assert.ok(argDeltas.length >= 3, `arguments came in ${argDeltas.length} deltas`);
  const added = evs.find((e) => e.type === "response.output_item.added" && e.item?.type === "function_call");
  assert.equal(added?.item?.arguments, "");
  assert.ok(argDeltas.every((e) => e.item_id === added?.item?.id && e.output_index === 1));
  assert.deepEqual(JSON.parse(argDeltas.map((e) => e.delta).join("")), shellInput);
  const done = evs.filter((e) => e.type === "response.output_item.done").map((e) => e.item);
  assert.deepEqual(done.map((i) => [i?.type, i?.status]), [["message", "completed"], ["function_call", "completed"]]);
  assert.equal(done[1]?.name, "shell");
  assert.deepEqual(JSON.parse(done[1]?.arguments ?? ""), shellInput);
  const completed = evs.at(-1)?.response;
  assert.equal(completed?.status, "completed");
  assert.match(completed?.id ?? "", /^resp_/);
  assert.equal(completed?.id, evs[0]?.response?.id);
  assert.deepEqual(completed?.output.map((i) => i.type), ["message", "function_call"]);
  assert.deepEqual(completed?.usage && [completed.usage.input_tokens, completed.usage.output_tokens, completed.usage.total_tokens], [9, 3, 12]);
  assert.equal(server.requests[0]?.lastUserText, "run the tests");
  assert.equal(server.requests[0]?.stream, true);
});

test("responses: function_call_output items are read into toolResults, one turn at a time as Codex replays history", async (t) => {
  const server = await start(t, {
    script: [
      { tools: [{ name: "shell", input: { command: ["bash", "-lc", "ls"] } }] },
      { tools: [{ name: "shell", input: { command: ["bash", "-lc", "cat a.txt"] } }, { name: "shell", input: { command: ["bash", "-lc", "cat b.txt"] } }] },
      { say: "Done." },
    ],
  });
  const user = { type: "message", role: "user", content: [{ type: "input_text", text: "read the files" }] };
  const callsOf = async (input: unknown[]): Promise<RItem[]> => (await json<RResponse>(await post(server, "/v1/responses", { model: "m", input }))).output.filter((i) => i.type === "function_call");
  const [ls] = await callsOf([user]);
  assert.ok(ls?.call_id);
  // Codex puts each call right before its output in the history it sends back.
  const history: unknown[] = [user, { type: "function_call", name: "shell", arguments: ls.arguments, call_id: ls.call_id }, { type: "function_call_output", call_id: ls.call_id, output: "a.txt\nb.txt" }];
  const [catA, catB] = await callsOf(history);
  assert.ok(catA?.call_id && catB?.call_id);
  history.push(
    { type: "function_call", name: "shell", arguments: catA.arguments, call_id: catA.call_id },
    { type: "function_call_output", call_id: catA.call_id, output: "alpha" },
    { type: "function_call", name: "shell", arguments: catB.arguments, call_id: catB.call_id },
    // The list form of an output, as Codex sends when it carries content items.
    { type: "function_call_output", call_id: catB.call_id, output: [{ type: "input_text", text: "beta" }] },
  );
  const last = await json<RResponse>(await post(server, "/v1/responses", { model: "m", input: history }));
  assert.equal(last.output[0]?.content?.[0]?.text, "Done.");
  assert.deepEqual(server.requests.map((r) => r.toolResults), [
    [],
    [{ id: ls.call_id, content: "a.txt\nb.txt" }],
    [{ id: catA.call_id, content: "alpha" }, { id: catB.call_id, content: "beta" }],
  ]);
  assert.ok(server.requests.every((r) => r.lastUserText === "read the files"));
  assert.deepEqual(server.problems, []);
});

test("responses: a call goes out in the kind of tool offered (custom tool input as raw text, local_shell_call), shell as a function", async (t) => {
  const patch = "*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n";
  const server = await start(t, {
    script: [{ tools: [{ name: "apply_patch", input: { input: patch } }, { name: "local_shell", input: { command: ["ls", "-la"], workdir: "/work" } }, { name: "shell", input: shellInput }] }],
  });
  const tools = [{ type: "custom", name: "apply_patch", format: { type: "grammar" } }, { type: "local_shell" }, { type: "function", name: "exec_command", parameters: {} }];
  const evs = await events<REvent>(await post(server, "/v1/responses", { model: "m", stream: true, input: "patch it", tools }), true);
  const done = evs.filter((e) => e.type === "response.output_item.done").map((e) => e.item as RItem & { action?: Record<string, unknown> });
  assert.deepEqual(done.map((i) => i.type), ["custom_tool_call", "local_shell_call", "function_call"]);
  assert.equal(done[0]?.input, patch);
  assert.equal(evs.filter((e) => e.type === "response.custom_tool_call_input.delta").map((e) => e.delta).join(""), patch);
  assert.deepEqual(done[1]?.action, { type: "exec", command: ["ls", "-la"], timeout_ms: null, working_directory: "/work", env: null, user: null });
  assert.equal(done[2]?.name, "shell");
  assert.ok(done.every((i) => /^call_/.test(i.call_id ?? "")));
});

// ---- Messages ----

test("messages, not streamed: text and tool_use blocks, stop_reason and usage", async (t) => {
  const server = await start(t, { script: [{ say: "Editing.", tools: [{ name: "Edit", input: patchInput }], usage: { input_tokens: 200, output_tokens: 40 } }, { say: "Done." }] });
  const res = await post(server, "/v1/messages", { model: "claude-sonnet-4-5", max_tokens: 1024, messages: [{ role: "user", content: "fix it" }], tools: messagesTools }, { "anthropic-version": "2023-06-01" });
  assert.match(res.headers.get("request-id") ?? "", /^req_/);
  const body = await json<AMessage>(res);
  assert.match(body.id, /^msg_/);
  assert.equal(body.type, "message");
  assert.equal(body.role, "assistant");
  assert.equal(body.model, "claude-sonnet-4-5");
  assert.equal(body.stop_reason, "tool_use");
  assert.deepEqual(body.content.map((b) => b.type), ["text", "tool_use"]);
  assert.equal(body.content[0]?.text, "Editing.");
  assert.match(body.content[1]?.id ?? "", /^toolu_/);
  assert.equal(body.content[1]?.name, "Edit");
  assert.deepEqual(body.content[1]?.input, patchInput);
  assert.equal(body.usage.input_tokens, 200);
  assert.equal(body.usage.output_tokens, 40);
  const end = await json<AMessage>(await post(server, "/v1/messages", { model: "claude-sonnet-4-5", max_tokens: 1024, messages: [{ role: "user", content: "and?" }] }));
  assert.equal(end.stop_reason, "end_turn");
  assert.deepEqual(end.content, [{ type: "text", text: "Done." }]);
});

test("messages, streamed: message_start … message_stop, input_json_delta pieces reassemble, message_delta carries stop_reason and usage", async (t) => {
  const server = await start(t, { script: [{ say: "I will run it.", tools: [{ name: "Bash", input: { command: "npm test -- --reporter=spec 2>&1 | tail -n 40", description: "Run the tests" } }, { name: "Edit", input: patchInput }], usage: { input_tokens: 31, output_tokens: 17 } }] });
  const res = await post(server, "/v1/messages?beta=true", { model: "claude-sonnet-4-5", max_tokens: 1024, stream: true, messages: [{ role: "user", content: [{ type: "text", text: "test it" }] }], tools: messagesTools });
  const evs = await events<AEvent>(res, true);
  assert.equal(evs[0]?.type, "message_start");
  assert.deepEqual(evs[0]?.message?.content, []);
  assert.equal(evs[0]?.message?.stop_reason, null);
  assert.equal(evs[0]?.message?.usage.input_tokens, 31);
  assert.deepEqual(evs.slice(-2).map((e) => e.type), ["message_delta", "message_stop"]);
  // Reassemble the way the SDK's MessageStream does.
  const blocks: ABlock[] = [];
  const partial = new Map<number, string[]>();
  for (const e of evs) {
    if (e.type === "content_block_start" && e.content_block) blocks[e.index ?? -1] = { ...e.content_block };
    if (e.type === "content_block_delta") {
      const block = blocks[e.index ?? -1];
      assert.ok(block, "a delta follows its block's start");
      if (e.delta?.type === "text_delta") block.text = (block.text ?? "") + (e.delta.text ?? "");
      if (e.delta?.type === "input_json_delta") partial.set(e.index ?? -1, [...(partial.get(e.index ?? -1) ?? []), e.delta.partial_json ?? ""]);
    }
    if (e.type === "content_block_stop" && partial.has(e.index ?? -1)) {
      const block = blocks[e.index ?? -1];
      if (block) block.input = JSON.parse((partial.get(e.index ?? -1) ?? []).join("")) as Record<string, unknown>;
    }
  }
  assert.deepEqual(blocks.map((b) => b.type), ["text", "tool_use", "tool_use"]);
  assert.equal(blocks[0]?.text, "I will run it.");
  assert.deepEqual(blocks[1]?.input, { command: "npm test -- --reporter=spec 2>&1 | tail -n 40", description: "Run the tests" });
  assert.deepEqual(blocks[2]?.input, patchInput);
  for (const [index, pieces] of partial) assert.ok(pieces.length >= 3, `block ${index} input came in ${pieces.length} pieces`);
  const delta = evs.at(-2);
  assert.equal(delta?.delta?.stop_reason, "tool_use");
  assert.equal(delta?.usage?.output_tokens, 17);
  assert.equal(server.requests[0]?.lastUserText, "test it");
  assert.deepEqual(server.requests[0]?.toolNames, ["Bash"]);
});

test("messages: tool_result blocks are read into toolResults; lastUserText skips result-only messages", async (t) => {
  const server = await start(t, { script: [{ tools: [{ name: "Bash", input: { command: "ls" } }, { name: "Read", input: { file_path: "/work/a.txt" } }] }, { say: "Read them." }] });
  const first = await json<AMessage>(await post(server, "/v1/messages", { model: "c", max_tokens: 100, messages: [{ role: "user", content: "look" }], tools: messagesTools }));
  const [bash, read] = first.content;
  assert.ok(bash?.id && read?.id);
  const messages = [
    { role: "user", content: "look" },
    { role: "assistant", content: first.content },
    { role: "user", content: [{ type: "tool_result", tool_use_id: bash.id, content: "a.txt" }, { type: "tool_result", tool_use_id: read.id, content: [{ type: "text", text: "alpha" }], is_error: false }] },
  ];
  await post(server, "/v1/messages", { model: "c", max_tokens: 100, messages, tools: messagesTools });
  assert.deepEqual(server.requests[1]?.toolResults, [{ id: bash.id, content: "a.txt" }, { id: read.id, content: "alpha" }]);
  assert.equal(server.requests[1]?.lastUserText, "look");
  assert.deepEqual(server.problems, []);
});

test("messages: Claude Code's side requests and count_tokens get canned answers and consume no turn", async (t) => {
  const server = await start(t, { script: [{ expect: (r) => (r.toolNames.includes("Bash") ? null : "no Bash tool offered"), say: "Main loop answer." }] });
  const claude = { "user-agent": "claude-cli/2.1.12 (external, cli)", "x-app": "cli", "anthropic-version": "2023-06-01" };
  // The quota check: one token, no tools.
  const quota = await json<AMessage>(await post(server, "/v1/messages?beta=true", { model: "claude-haiku-4-5", max_tokens: 1, messages: [{ role: "user", content: "quota" }] }, claude));
  assert.equal(quota.type, "message");
  assert.equal(quota.stop_reason, "end_turn");
  // Topic detection, streamed, with the answer prefilled by "{": the canned answer continues it into JSON.
  const topic = await events<AEvent>(await post(server, "/v1/messages?beta=true", {
    model: "claude-haiku-4-5", max_tokens: 512, stream: true, tools: [],
    system: [{ type: "text", text: "You are Claude Code." }, { type: "text", text: "Analyze if this message indicates a new conversation topic. If it does, extract a 2-3 word title." }],
    messages: [{ role: "user", content: [{ type: "text", text: "fix the build" }] }, { role: "assistant", content: [{ type: "text", text: "{" }] }],
  }, claude), true);
  const topicText = topic.filter((e) => e.delta?.type === "text_delta").map((e) => e.delta?.text).join("");
  assert.deepEqual(JSON.parse(`{${topicText}`), { isNewTopic: false, title: null });
  const count = await json<{ input_tokens: number }>(await post(server, "/v1/messages/count_tokens?beta=true", { model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hello" }], tools: messagesTools }, claude));
  assert.ok(Number.isInteger(count.input_tokens) && count.input_tokens > 0);
  // The main loop offers tools and gets the script's first turn.
  const main = await json<AMessage>(await post(server, "/v1/messages?beta=true", { model: "claude-sonnet-4-5", max_tokens: 32000, messages: [{ role: "user", content: "fix the build" }], tools: messagesTools }, claude));
  assert.equal(main.content[0]?.text, "Main loop answer.");
  assert.equal(server.requests.length, 1);
  assert.equal(server.sideRequests.length, 3);
  assert.deepEqual(server.problems, []);
});

// ---- expectations, end of script, malformed requests ----

test("a failed expectation answers 400 in the provider's shape, is recorded, and the script moves on", async (t) => {
  const server = await start(t, {
    script: [
      { expect: (r) => (r.lastUserText.includes("deploy") ? null : `expected a deploy request, got ${JSON.stringify(r.lastUserText)}`), say: "never sent" },
      { expect: () => "wrong tools", say: "never sent either" },
      { say: "third turn" },
    ],
  });
  const openai = await post(server, "/v1/chat/completions", { model: "m", messages: [{ role: "user", content: "hello" }] });
  assert.equal(openai.status, 400);
  const oe = await json<OpenAIErrorBody>(openai);
  assert.equal(oe.error.type, "invalid_request_error");
  assert.match(oe.error.message, /turn 1 \(chat\).*expected a deploy request, got "hello"/);
  const anthropic = await post(server, "/v1/messages", { model: "c", max_tokens: 10, messages: [{ role: "user", content: "hello" }] });
  assert.equal(anthropic.status, 400);
  const ae = await json<AnthropicErrorBody>(anthropic);
  assert.equal(ae.type, "error");
  assert.equal(ae.error.type, "invalid_request_error");
  assert.match(ae.error.message, /turn 2 \(messages\).*wrong tools/);
  const third = await json<RResponse>(await post(server, "/v1/responses", { model: "m", input: "go" }));
  assert.equal(third.output[0]?.content?.[0]?.text, "third turn");
  assert.deepEqual(server.problems, ['turn 1 (chat): expected a deploy request, got "hello"', "turn 2 (messages): wrong tools"]);
});

test("past the end of the script each API answers a final '(script ended)' message and records a problem", async (t) => {
  const server = await start(t, { script: [] });
  const chat = await json<ChatCompletion>(await post(server, "/v1/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }] }));
  assert.equal(chat.choices[0]?.message.content, "(script ended)");
  assert.equal(chat.choices[0]?.finish_reason, "stop");
  const evs = await events<REvent>(await post(server, "/v1/responses", { model: "m", stream: true, input: "x" }), true);
  assert.deepEqual(evs.at(-1)?.response?.output.map((i) => [i.type, i.content?.[0]?.text]), [["message", "(script ended)"]]);
  const msg = await json<AMessage>(await post(server, "/v1/messages", { model: "c", max_tokens: 10, messages: [{ role: "user", content: "x" }] }));
  assert.deepEqual([msg.stop_reason, msg.content], ["end_turn", [{ type: "text", text: "(script ended)" }]]);
  assert.deepEqual(server.problems, [
    "request 1 (chat) came after the end of the script (0 turns)",
    "request 2 (responses) came after the end of the script (0 turns)",
    "request 3 (messages) came after the end of the script (0 turns)",
  ]);
});

test("malformed requests and unknown endpoints answer in the provider's shape, are recorded, and consume no turn", async (t) => {
  const server = await start(t, { script: [{ say: "first turn" }] });
  const badJson = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
  assert.equal(badJson.status, 400);
  assert.equal((await json<OpenAIErrorBody>(badJson)).error.type, "invalid_request_error");
  const noMaxTokens = await post(server, "/v1/messages", { model: "c", messages: [{ role: "user", content: "x" }] });
  assert.equal(noMaxTokens.status, 400);
  assert.equal((await json<AnthropicErrorBody>(noMaxTokens)).error.message, "max_tokens: Field required");
  const unknown = await post(server, "/v1/completions", { model: "m", prompt: "x" });
  assert.equal(unknown.status, 404);
  assert.equal((await json<OpenAIErrorBody>(unknown)).error.code, "unknown_url");
  const ok = await json<ChatCompletion>(await post(server, "/v1/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }] }));
  assert.equal(ok.choices[0]?.message.content, "first turn");
  assert.equal(server.problems.length, 3);
  assert.match(server.problems[0] ?? "", /POST \/v1\/chat\/completions: malformed request: the body is not valid JSON/);
  assert.match(server.problems[1] ?? "", /max_tokens: Field required/);
  assert.match(server.problems[2] ?? "", /POST \/v1\/completions: no such endpoint/);
});

// ---- faults ----

test("a status fault answers that status with the provider's error body", async (t) => {
  const server = await start(t, {
    script: [
      { fault: { status: 429, message: "Rate limit reached for requests" } },
      { fault: { status: 529 } },
      { fault: { status: 500 } },
      { say: "recovered" },
    ],
  });
  const rate = await post(server, "/v1/responses", { model: "m", stream: true, input: "x" });
  assert.equal(rate.status, 429);
  assert.deepEqual(await json<OpenAIErrorBody>(rate), { error: { message: "Rate limit reached for requests", type: "requests", param: null, code: "rate_limit_exceeded" } });
  const overloaded = await post(server, "/v1/messages", { model: "c", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] });
  assert.equal(overloaded.status, 529);
  const oe = await json<AnthropicErrorBody>(overloaded);
  assert.equal(oe.error.type, "overloaded_error");
  const broken = await post(server, "/v1/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }] });
  assert.equal(broken.status, 500);
  assert.equal((await json<OpenAIErrorBody>(broken)).error.type, "server_error");
  const ok = await json<ChatCompletion>(await post(server, "/v1/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }] }));
  assert.equal(ok.choices[0]?.message.content, "recovered");
  assert.deepEqual(server.problems, []);
});

test("a nonsense fault answers bytes that are neither JSON nor SSE events", async (t) => {
  const server = await start(t, { script: [{ fault: "nonsense" }, { fault: "nonsense" }] });
  const plain = await post(server, "/v1/chat/completions", { model: "m", messages: [{ role: "user", content: "x" }] });
  assert.equal(plain.status, 200);
  await assert.rejects(plain.json(), SyntaxError);
  const streamed = await post(server, "/v1/messages", { model: "c", max_tokens: 10, stream: true, messages: [{ role: "user", content: "x" }] });
  assert.match(streamed.headers.get("content-type") ?? "", /^text\/event-stream/);
  await assert.rejects(readSse(streamed), /not an SSE field line/);
});

test("a stall never answers: the client's timeout fires, and close() still returns promptly", async (t) => {
  const server = await start(t, { script: [{ fault: "stall" }, { fault: "stall" }] });
  const began = Date.now();
  await assert.rejects(post(server, "/v1/responses", { model: "m", stream: true, input: "x" }, {}, AbortSignal.timeout(300)), { name: "TimeoutError" });
  assert.ok(Date.now() - began >= 250, "the request waited for the client's timeout");
  // A second client that never gives up is cut off when the server closes.
  const waiting = post(server, "/v1/messages", { model: "c", max_tokens: 10, messages: [{ role: "user", content: "x" }] });
  await new Promise((r) => setTimeout(r, 100));
  const closing = Date.now();
  await server.close();
  assert.ok(Date.now() - closing < 1000, `close() took ${Date.now() - closing} ms`);
  await assert.rejects(waiting, TypeError);
  assert.equal(server.requests.length, 2);
});

// ---- API key ----

test("with an API key, requests without it get 401 in the provider's shape; Bearer and x-api-key are accepted", async (t) => {
  const script: ScriptedTurn[] = [{ say: "one" }, { say: "two" }, { say: "three" }];
  const server = await start(t, { script, apiKey: "sk-test-123" });
  const chatBody = { model: "m", messages: [{ role: "user", content: "x" }] };
  const messagesBody = { model: "c", max_tokens: 10, messages: [{ role: "user", content: "x" }] };
  const noKey = await post(server, "/v1/chat/completions", chatBody);
  assert.equal(noKey.status, 401);
  const oe = await json<OpenAIErrorBody>(noKey);
  assert.deepEqual([oe.error.type, oe.error.code], ["invalid_request_error", "invalid_api_key"]);
  const wrong = await post(server, "/v1/messages", messagesBody, { "x-api-key": "sk-wrong" });
  assert.equal(wrong.status, 401);
  assert.deepEqual(await json<AnthropicErrorBody>(wrong).then((b) => [b.type, b.error.type]), ["error", "authentication_error"]);
  // x-api-key is Anthropic's header only.
  assert.equal((await post(server, "/v1/chat/completions", chatBody, { "x-api-key": "sk-test-123" })).status, 401);
  assert.equal((await post(server, "/v1/chat/completions", chatBody, { authorization: "Bearer sk-test-123" })).status, 200);
  assert.equal((await post(server, "/v1/messages", messagesBody, { "x-api-key": "sk-test-123" })).status, 200);
  assert.equal((await post(server, "/v1/messages", messagesBody, { authorization: "Bearer sk-test-123" })).status, 200);
  assert.equal(server.requests.length, 3, "rejected requests consume no turn");
  assert.equal(server.problems.length, 3);
  assert.ok(server.problems.every((p) => p.includes("401")));
  const models = await fetch(`${server.url}/v1/models`);
  assert.equal(models.status, 401);
});

// ---- models ----

test("GET /v1/models lists the model ids in OpenAI's, Anthropic's or Codex's shape", async (t) => {
  const server = await start(t, { script: [{ say: "x" }], models: ["scripted-gpt"] });
  await post(server, "/v1/chat/completions", { model: "seen-model", messages: [{ role: "user", content: "x" }] });
  const openai = await json<{ object: string; data: { id: string; object: string }[] }>(await fetch(`${server.url}/v1/models`));
  assert.equal(openai.object, "list");
  assert.deepEqual(openai.data.map((m) => [m.id, m.object]), [["scripted-gpt", "model"], ["seen-model", "model"]]);
  const anthropic = await json<{ data: { type: string; id: string }[]; has_more: boolean }>(await fetch(`${server.url}/v1/models`, { headers: { "anthropic-version": "2023-06-01" } }));
  assert.deepEqual(anthropic.data.map((m) => [m.type, m.id]), [["model", "scripted-gpt"], ["model", "seen-model"]]);
  assert.equal(anthropic.has_more, false);
  assert.deepEqual(await json<unknown>(await fetch(`${server.url}/v1/models?client_version=0.99.0`)), { models: [] });
});
