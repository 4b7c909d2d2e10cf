// OpenAI Responses API (`POST /v1/responses`), what Codex speaks: request reading, the `response`
// object and its semantic SSE stream (`response.created` … `response.completed`).
//
// Codex (openai/codex, codex-rs/codex-api/src/sse/responses.rs) always streams; it acts on
// `response.output_item.done` items (parsed as codex-rs/protocol/src/models.rs `ResponseItem`:
// `message` with `output_text` parts, `function_call` {name, arguments: JSON string, call_id},
// `custom_tool_call` {name, input, call_id}, `local_shell_call` {call_id, status, action}), shows
// `response.output_text.delta` as it comes, and needs `response.completed` with `response.id` and
// `usage` {input_tokens, output_tokens, total_tokens} before the stream ends, or it retries.
import type { ServerResponse } from "node:http";
import type { CallTurnLookup, ParsedRequest, Reply } from "./protocol.ts";
import { BadRequest, isRecord, makeId, nowSeconds, splitPieces, splitWords, sseHeaders, str, textOf, writeNamedEvent } from "./protocol.ts";

const callTypes = new Set(["function_call", "custom_tool_call", "local_shell_call"]);
const outputTypes = new Set(["function_call_output", "custom_tool_call_output", "local_shell_call_output"]);

export function parseResponses(body: Record<string, unknown>, turnOfCall: CallTurnLookup): ParsedRequest {
  if (typeof body.model !== "string" || body.model === "") throw new BadRequest("Missing required parameter: 'model'.");
  if (typeof body.input !== "string" && !Array.isArray(body.input)) throw new BadRequest("Missing required parameter: 'input'.");
  const items = typeof body.input === "string" ? [{ type: "message", role: "user", content: body.input }] : body.input.filter(isRecord);
  const lastUser = items.findLast((i) => i.role === "user" && (i.type === undefined || i.type === "message"));
  // Tool outputs answering the latest model response. The input is one flat list in which Codex
  // puts each call next to its output, so a run of calls and outputs with no message between them
  // may span several responses; the server remembers which response issued each call id and stops
  // at a call from another one.
  const toolResults: ParsedRequest["toolResults"] = [];
  let group: number | undefined;
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i] ?? {};
    const type = String(item.type);
    if (!callTypes.has(type) && !outputTypes.has(type)) break;
    const callId = str(item.call_id);
    const turn = turnOfCall(callId);
    if (turn !== undefined) {
      if (group === undefined) group = turn;
      else if (turn !== group) break;
    }
    if (outputTypes.has(type)) toolResults.unshift({ id: callId, content: textOf(item.output) });
  }
  const toolNames: string[] = [];
  for (const t of Array.isArray(body.tools) ? body.tools : []) {
    if (!isRecord(t)) continue;
    // Function and custom (free-form) tools have names; built-in ones (`local_shell`, `web_search`) go by type.
    if (typeof t.name === "string") toolNames.push(t.name);
    else if (typeof t.type === "string") toolNames.push(t.type);
  }
  return { model: body.model, stream: body.stream === true, lastUserText: lastUser ? textOf(lastUser.content) : "", toolResults, toolNames };
}

function usageOf(reply: Reply): Record<string, unknown> {
  const { input_tokens, output_tokens } = reply.usage;
  return { input_tokens, input_tokens_details: { cached_tokens: 0 }, output_tokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: input_tokens + output_tokens };
}

type Item = Record<string, unknown> & { id: string; type: string };

/**
 * The output items of a reply, completed. A call goes out in the kind of tool the request offered
 * under that name: a `custom` tool gets a `custom_tool_call` whose `input` is the raw text (the
 * script's `input.input`), the built-in `local_shell` a `local_shell_call`, anything else (and
 * names the request did not offer) a `function_call` with JSON arguments.
 */
function outputItems(reply: Reply, body: Record<string, unknown>): Item[] {
  const kinds = new Map<string, string>();
  for (const t of Array.isArray(body.tools) ? body.tools : []) {
    if (isRecord(t) && typeof t.type === "string") kinds.set(typeof t.name === "string" ? t.name : t.type, t.type);
  }
  const items: Item[] = [];
  if (reply.text) {
    items.push({ id: makeId("msg_", 48), type: "message", status: "completed", role: "assistant", content: [{ type: "output_text", text: reply.text, annotations: [], logprobs: [] }] });
  }
  for (const call of reply.calls) {
    const call_id = makeId("call_");
    const kind = kinds.get(call.name);
    if (kind === "custom") {
      const input = typeof call.input.input === "string" ? call.input.input : JSON.stringify(call.input);
      items.push({ id: makeId("ctc_", 48), type: "custom_tool_call", status: "completed", call_id, name: call.name, input });
    } else if (kind === "local_shell") {
      const i = call.input;
      items.push({
        id: makeId("lsh_", 48), type: "local_shell_call", status: "completed", call_id,
        action: { type: "exec", command: i.command, timeout_ms: i.timeout_ms ?? null, working_directory: i.workdir ?? i.working_directory ?? null, env: i.env ?? null, user: null },
      });
    } else {
      items.push({ id: makeId("fc_", 48), type: "function_call", status: "completed", arguments: JSON.stringify(call.input), call_id, name: call.name });
    }
  }
  return items;
}

/** The call ids a rendered reply issued, so later requests can be split into turns. */
export function callIdsOf(items: Item[]): string[] {
  return items.flatMap((i) => (typeof i.call_id === "string" ? [i.call_id] : []));
}

export function renderResponses(res: ServerResponse, reply: Reply, req: ParsedRequest, body: Record<string, unknown>, headers: Record<string, string>): string[] {
  const items = outputItems(reply, body);
  const id = makeId("resp_", 48);
  const created_at = nowSeconds();
  const response = (status: string, output: Item[], usage: Record<string, unknown> | null): Record<string, unknown> => ({
    id, object: "response", created_at, status, background: false, error: null, incomplete_details: null,
    instructions: body.instructions ?? null, max_output_tokens: body.max_output_tokens ?? null, model: req.model, output,
    parallel_tool_calls: body.parallel_tool_calls ?? true, previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null }, store: body.store ?? true, temperature: 1, text: { format: { type: "text" } },
    tool_choice: body.tool_choice ?? "auto", tools: body.tools ?? [], top_p: 1, truncation: "disabled", usage, user: null, metadata: {},
  });
  if (!req.stream) {
    res.writeHead(200, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(response("completed", items, usageOf(reply))));
    return callIdsOf(items);
  }
  res.writeHead(200, { ...sseHeaders, ...headers });
  let sequence_number = 0;
  const emit = (type: string, data: Record<string, unknown>): void => writeNamedEvent(res, type, { type, sequence_number: sequence_number++, ...data });
  emit("response.created", { response: response("in_progress", [], null) });
  emit("response.in_progress", { response: response("in_progress", [], null) });
  items.forEach((item, output_index) => {
    const item_id = item.id;
    if (item.type === "message") {
      const text = reply.text ?? "";
      emit("response.output_item.added", { output_index, item: { ...item, status: "in_progress", content: [] } });
      const part = { type: "output_text", text: "", annotations: [], logprobs: [] };
      emit("response.content_part.added", { item_id, output_index, content_index: 0, part });
      for (const delta of splitWords(text)) emit("response.output_text.delta", { item_id, output_index, content_index: 0, delta, logprobs: [] });
      emit("response.output_text.done", { item_id, output_index, content_index: 0, text, logprobs: [] });
      emit("response.content_part.done", { item_id, output_index, content_index: 0, part: { ...part, text } });
    } else if (item.type === "function_call") {
      const args = String(item.arguments);
      emit("response.output_item.added", { output_index, item: { ...item, status: "in_progress", arguments: "" } });
      for (const delta of splitPieces(args)) emit("response.function_call_arguments.delta", { item_id, output_index, delta });
      emit("response.function_call_arguments.done", { item_id, output_index, name: item.name, arguments: args });
    } else if (item.type === "custom_tool_call") {
      const input = String(item.input);
      emit("response.output_item.added", { output_index, item: { ...item, status: "in_progress", input: "" } });
      for (const delta of splitPieces(input)) emit("response.custom_tool_call_input.delta", { item_id, output_index, delta });
      emit("response.custom_tool_call_input.done", { item_id, output_index, input });
    } else {
      emit("response.output_item.added", { output_index, item: { ...item, status: "in_progress" } });
    }
    emit("response.output_item.done", { output_index, item });
  });
  emit("response.completed", { response: response("completed", items, usageOf(reply)) });
  res.end();
  return callIdsOf(items);
}
