// OpenAI Chat Completions (`POST /v1/chat/completions`): request reading, the `chat.completion`
// body and the `chat.completion.chunk` stream, and OpenAI's error shape (shared with the Responses API).
import type { ServerResponse } from "node:http";
import type { ParsedRequest, Reply } from "./protocol.ts";
import { BadRequest, isRecord, makeId, nowSeconds, splitPieces, splitWords, sseHeaders, str, textOf, writeDataEvent } from "./protocol.ts";

export function parseChat(body: Record<string, unknown>): ParsedRequest {
  if (typeof body.model !== "string" || body.model === "") throw new BadRequest("you must provide a model parameter");
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new BadRequest("'messages' is a required property and must be a non-empty array");
  const messages = body.messages.filter(isRecord);
  const lastUser = messages.findLast((m) => m.role === "user");
  // Tool results answer the latest assistant message: they are the `role: "tool"` messages after it.
  const toolResults: ParsedRequest["toolResults"] = [];
  for (let i = messages.length - 1; i >= 0 && messages[i]?.role === "tool"; i--) {
    const m = messages[i] ?? {};
    toolResults.unshift({ id: str(m.tool_call_id), content: textOf(m.content) });
  }
  const toolNames: string[] = [];
  for (const t of Array.isArray(body.tools) ? body.tools : []) {
    if (isRecord(t) && isRecord(t.function) && typeof t.function.name === "string") toolNames.push(t.function.name);
  }
  // The deprecated `functions` parameter, still sent by some clients.
  for (const f of Array.isArray(body.functions) ? body.functions : []) if (isRecord(f) && typeof f.name === "string") toolNames.push(f.name);
  return { model: body.model, stream: body.stream === true, lastUserText: lastUser ? textOf(lastUser.content) : "", toolResults, toolNames };
}

function usageOf(reply: Reply): Record<string, unknown> {
  const { input_tokens: prompt, output_tokens: completion } = reply.usage;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

export function renderChat(res: ServerResponse, reply: Reply, req: ParsedRequest, body: Record<string, unknown>, headers: Record<string, string>): void {
  const id = makeId("chatcmpl-", 29);
  const created = nowSeconds();
  const calls = reply.calls.map((c) => ({ id: makeId("call_"), type: "function" as const, function: { name: c.name, arguments: JSON.stringify(c.input) } }));
  const finish_reason = calls.length > 0 ? "tool_calls" : "stop";
  const text = reply.text ?? "";
  if (!req.stream) {
    const message: Record<string, unknown> = { role: "assistant", content: text === "" && calls.length > 0 ? null : text, refusal: null, annotations: [] };
    if (calls.length > 0) message.tool_calls = calls;
    res.writeHead(200, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify({ id, object: "chat.completion", created, model: req.model, choices: [{ index: 0, message, logprobs: null, finish_reason }], usage: usageOf(reply), service_tier: "default", system_fingerprint: null }));
    return;
  }
  const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
  // With include_usage every chunk carries `usage: null` and one last chunk with no choices carries the numbers.
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): Record<string, unknown> => ({
    id, object: "chat.completion.chunk", created, model: req.model, service_tier: "default", system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  });
  res.writeHead(200, { ...sseHeaders, ...headers });
  writeDataEvent(res, chunk({ role: "assistant", content: "", refusal: null }));
  for (const piece of splitWords(text)) writeDataEvent(res, chunk({ content: piece }));
  calls.forEach((call, index) => {
    // The first fragment of a call carries its id, type and name; later ones only argument text.
    writeDataEvent(res, chunk({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] }));
    for (const piece of splitPieces(call.function.arguments)) writeDataEvent(res, chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  writeDataEvent(res, chunk({}, finish_reason));
  if (includeUsage) writeDataEvent(res, { id, object: "chat.completion.chunk", created, model: req.model, service_tier: "default", system_fingerprint: null, choices: [], usage: usageOf(reply) });
  writeDataEvent(res, "[DONE]");
  res.end();
}

/** OpenAI's error body, as both OpenAI APIs answer it. */
export function openaiError(status: number, message: string, code?: string): Record<string, unknown> {
  const type = status === 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error";
  const defaultCode = status === 401 ? "invalid_api_key" : status === 429 ? "rate_limit_exceeded" : status === 404 ? "unknown_url" : null;
  return { error: { message, type, param: null, code: code ?? defaultCode } };
}
