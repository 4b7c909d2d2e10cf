// Anthropic Messages API (`POST /v1/messages`), what Claude Code speaks with ANTHROPIC_BASE_URL:
// request reading, the `message` body, its SSE stream (`message_start` … `message_stop`) and
// Anthropic's error shape.
import type { ServerResponse } from "node:http";
import type { ParsedRequest, Reply } from "./protocol.ts";
import { BadRequest, isRecord, makeId, splitPieces, splitWords, sseHeaders, str, textOf, writeNamedEvent } from "./protocol.ts";

export function parseMessages(body: Record<string, unknown>, o: { requireMaxTokens: boolean }): ParsedRequest {
  if (typeof body.model !== "string" || body.model === "") throw new BadRequest("model: Field required");
  if (!Array.isArray(body.messages)) throw new BadRequest("messages: Field required");
  if (o.requireMaxTokens && typeof body.max_tokens !== "number") throw new BadRequest("max_tokens: Field required");
  const messages = body.messages.filter(isRecord);
  // Claude Code sends tool results as user messages too, so the last user text is that of the last
  // user message that has any text besides `tool_result` blocks.
  let lastUserText = "";
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i] ?? {};
    if (m.role !== "user") continue;
    const text = textOf(m.content);
    if (text !== "") { lastUserText = text; break; }
  }
  // Tool results answer the latest assistant message: the `tool_result` blocks of the user message(s) after it.
  const toolResults: ParsedRequest["toolResults"] = [];
  for (let i = messages.length - 1; i >= 0 && messages[i]?.role !== "assistant"; i--) {
    const content = messages[i]?.content;
    const blocks = Array.isArray(content) ? content.filter(isRecord).filter((b) => b.type === "tool_result") : [];
    toolResults.unshift(...blocks.map((b) => ({ id: str(b.tool_use_id), content: textOf(b.content) })));
  }
  const toolNames = (Array.isArray(body.tools) ? body.tools : []).filter(isRecord).flatMap((t) => (typeof t.name === "string" ? [t.name] : []));
  return { model: body.model, stream: body.stream === true, lastUserText, toolResults, toolNames };
}

/** The system prompt as text (a string or a list of text blocks). */
export const systemText = (body: Record<string, unknown>): string => textOf(body.system);

function usageOf(reply: Reply): Record<string, unknown> {
  return { input_tokens: reply.usage.input_tokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: reply.usage.output_tokens, service_tier: "standard" };
}

export function renderMessages(res: ServerResponse, reply: Reply, req: ParsedRequest, headers: Record<string, string>): void {
  const blocks: Record<string, unknown>[] = [];
  if (reply.text) blocks.push({ type: "text", text: reply.text });
  for (const call of reply.calls) blocks.push({ type: "tool_use", id: makeId("toolu_01", 22), name: call.name, input: call.input });
  const stop_reason = reply.calls.length > 0 ? "tool_use" : "end_turn";
  const message = { id: makeId("msg_01", 22), type: "message", role: "assistant", model: req.model, content: blocks, stop_reason, stop_sequence: null, usage: usageOf(reply) };
  if (!req.stream) {
    res.writeHead(200, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify(message));
    return;
  }
  res.writeHead(200, { ...sseHeaders, ...headers });
  const emit = (type: string, data: Record<string, unknown> = {}): void => writeNamedEvent(res, type, { type, ...data });
  // As the API does: the message starts empty with the input tokens counted and one output token.
  emit("message_start", { message: { ...message, content: [], stop_reason: null, usage: { ...usageOf(reply), output_tokens: 1 } } });
  emit("ping");
  blocks.forEach((block, index) => {
    if (block.type === "text") {
      emit("content_block_start", { index, content_block: { type: "text", text: "" } });
      for (const text of splitWords(String(block.text))) emit("content_block_delta", { index, delta: { type: "text_delta", text } });
    } else {
      emit("content_block_start", { index, content_block: { ...block, input: {} } });
      // The input arrives as partial JSON strings the client concatenates and parses at the block's end.
      for (const partial_json of splitPieces(JSON.stringify(block.input))) emit("content_block_delta", { index, delta: { type: "input_json_delta", partial_json } });
    }
    emit("content_block_stop", { index });
  });
  emit("message_delta", { delta: { stop_reason, stop_sequence: null }, usage: usageOf(reply) });
  emit("message_stop");
  res.end();
}

/** `POST /v1/messages/count_tokens`: the documented `{input_tokens}` answer, estimated. */
export function countTokens(body: Record<string, unknown>): Record<string, unknown> {
  return { input_tokens: Math.max(1, Math.ceil(JSON.stringify([body.system ?? "", body.messages, body.tools ?? []]).length / 4)) };
}

const errorTypes: Record<number, string> = {
  400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
  413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error",
};

/** Anthropic's error body: `{type: "error", error: {type, message}}`. */
export function anthropicError(status: number, message: string, requestId: string): Record<string, unknown> {
  const type = errorTypes[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
  return { type: "error", error: { type, message }, request_id: requestId };
}
