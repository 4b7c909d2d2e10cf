// The transcript's events, as auditors read them: one schema (zod) for the envelope and, per kind,
// the fields Bosun always writes; `schema/bosun.event.schema.json` is generated from it for
// anyone consuming the JSONL export. Events an agent printed carry `source: "agent"` and the
// attempt whose container printed them; their other fields are the agent's own.
import { z } from "zod";
import { runStates } from "../runs/run.ts";
import { eventKinds } from "./transcript.ts";

const phase = z.enum(["setup", "agent", "test"]);
const sha = z.string().regex(/^[0-9a-f]{40}$/);
const permissionLevel = z.enum(["read", "write"]);

/** The fields Bosun writes for each kind it records itself; more may follow. */
const bosunPayloads = {
  prompt: z.looseObject({ prompt: z.string(), task: z.looseObject({ run_id: z.string(), repository: z.string() }) }),
  command: z.looseObject({ phase }),
  file_diff: z.looseObject({ base: z.string().nullable(), commit: sha, files: z.array(z.looseObject({ path: z.string(), status: z.string() })), diff: z.string(), truncated: z.boolean() }),
  dependency_install: z.looseObject({ phase, ecosystem: z.enum(["npm", "pypi", "crates", "go", "maven", "rubygems", "debian"]), name: z.string(), version: z.string().nullable(), host: z.string(), url: z.string() }),
  test: z.looseObject({ command: z.string(), exit_code: z.number().int().nullable(), timed_out: z.boolean(), output_tail: z.string(), commit: sha }),
  network: z.looseObject({ phase, host: z.string(), port: z.number().int().min(0).max(65535), method: z.string(), allowed: z.boolean(), reason: z.string(), bytesUp: z.number(), bytesDown: z.number() }),
  token_minted: z.looseObject({ purpose: z.string(), repositories: z.array(z.string()), permissions: z.record(z.string(), permissionLevel), expires_at: z.string() }),
  token_revoked: z.looseObject({ purpose: z.string(), repositories: z.array(z.string()) }),
  comment: z.looseObject({ purpose: z.enum(["progress", "refusal", "plan"]) }),
  push: z.looseObject({ branch: z.string().regex(/^bosun\//), commit: sha, previous: sha.nullable() }),
  pull_request: z.looseObject({ number: z.number().int().positive(), url: z.string(), draft: z.boolean(), created: z.boolean(), title: z.string() }),
  check_run: z.looseObject({ name: z.string(), id: z.number().int().positive() }),
  review: z.looseObject({ decision: z.string().optional(), reviewer: z.string().nullable().optional(), author: z.string().optional() }),
  policy_decision: z.looseObject({ rule: z.string() }),
  state: z.looseObject({ from: z.enum(runStates), to: z.enum(runStates), outcome: z.string().optional() }),
  error: z.looseObject({ message: z.string() }),
} as const;

const agentPayload = z.looseObject({ source: z.literal("agent"), bosun_attempt: z.number().int().min(1) });

export const transcriptEventSchema = z.strictObject({
  run_id: z.uuid(),
  seq: z.number().int().min(1),
  at: z.iso.datetime({ offset: true }),
  kind: z.enum(eventKinds),
  payload: z.record(z.string(), z.unknown()),
}).superRefine((e, ctx) => {
  const fromAgent = e.payload["source"] === "agent";
  const schema = fromAgent ? agentPayload : (bosunPayloads as Partial<Record<string, z.ZodType>>)[e.kind];
  if (!schema) {
    ctx.addIssue({ code: "custom", path: ["kind"], message: `only an agent records ${e.kind} events` });
    return;
  }
  const r = schema.safeParse(e.payload);
  if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: "custom", path: ["payload", ...issue.path.map(String)], message: issue.message });
});

/** The JSON Schema for editors and consumers of the export: the envelope, and per kind what Bosun writes. */
export function eventJsonSchema(): Record<string, unknown> {
  const envelope = z.toJSONSchema(z.strictObject({
    run_id: z.uuid().describe("The run."),
    seq: z.number().int().min(1).describe("Position in the run's transcript, from 1."),
    at: z.iso.datetime({ offset: true }).describe("When Bosun recorded it."),
    kind: z.enum(eventKinds),
    payload: z.record(z.string(), z.unknown()).describe("What happened; see the per-kind definitions. Events an agent printed carry source: agent."),
  }));
  const kinds = Object.fromEntries(Object.entries(bosunPayloads).map(([k, s]) => [k, z.toJSONSchema(s)]));
  return {
    ...envelope,
    title: "A Bosun transcript event (one line of transcript.jsonl)",
    anyOf: [
      { properties: { payload: z.toJSONSchema(agentPayload) } },
      ...Object.keys(kinds).map((k) => ({ properties: { kind: { const: k }, payload: { $ref: `#/$defs/${k}` } } })),
    ],
    $defs: kinds,
  };
}
