#!/usr/bin/env node
// Bosun's bundled deterministic agent, used by the demo and the tests. It follows the agent
// contract (/workspace, /bosun/task.json in, /bosun/result.json out, JSONL events on stdout):
// it looks for a ```diff block in the issue and applies it with `git apply`, then runs the
// repository's test command when the task names one. No model, so its result is repeatable.
import { readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";

const event = (type, fields) => process.stdout.write(JSON.stringify({ type, ...fields }) + "\n");
const task = JSON.parse(readFileSync("/bosun/task.json", "utf8"));
event("model_message", { text: `Reading issue #${task.issue.number}: ${task.issue.title}` });

// A follow-up's review comes last: its patch (made on top of the pull request's branch) wins.
const followUp = task.follow_up;
const texts = [
  task.issue.body ?? "", ...(task.issue.comments ?? []).map((c) => c.body ?? ""), task.instructions ?? "",
  followUp?.review?.body ?? "", ...(followUp?.review?.comments ?? []).map((c) => c.body ?? ""), followUp?.instructions ?? "",
];
const patches = texts.flatMap((t) => [...t.matchAll(/```(?:diff|patch)\n([\s\S]*?)```/g)].map((m) => m[1]));
if (patches.length === 0) {
  event("model_message", { text: "The issue holds no ```diff block, so there is nothing for this agent to apply." });
  writeFileSync("/bosun/result.json", JSON.stringify({ summary: "No patch found in the issue; nothing changed." }));
  process.exit(0);
}

const patch = patches[patches.length - 1];
if (task.mode === "plan") {
  // Read-only: describe what the patch would change instead of applying it.
  const files = [...patch.matchAll(/^\+\+\+ b\/(.+)$/gm)].map((m) => m[1]);
  const added = patch.split("\n").filter((l) => l.startsWith("+") && !l.startsWith("+++")).length;
  const removed = patch.split("\n").filter((l) => l.startsWith("-") && !l.startsWith("---")).length;
  const check = spawnSync("git", ["apply", "--check", "--recount", "-"], { cwd: "/workspace", input: patch.endsWith("\n") ? patch : patch + "\n", encoding: "utf8" });
  event("tool_result", { tool: "run", command: "git apply --check", exit_code: check.status });
  writeFileSync("/bosun/result.json", JSON.stringify({
    summary: [
      `Plan for #${task.issue.number}: apply the patch from the issue.`,
      "",
      ...files.map((f) => `- change \`${f}\``),
      "",
      `${added} line(s) added, ${removed} removed; the patch ${check.status === 0 ? "applies cleanly to the default branch" : "does not apply to the default branch as it stands"}.`,
      task.test_command ? `Then run \`${task.test_command}\` to confirm.` : "",
    ].join("\n"),
  }));
  process.exit(0);
}
writeFileSync("/tmp/issue.patch", patch.endsWith("\n") ? patch : patch + "\n");
event("tool_call", { tool: "run", command: "git apply --recount /tmp/issue.patch" });
const applied = spawnSync("git", ["apply", "--recount", "--whitespace=nowarn", "/tmp/issue.patch"], { cwd: "/workspace", encoding: "utf8" });
event("tool_result", { tool: "run", exit_code: applied.status, output: (applied.stdout + applied.stderr).slice(-2000) });
if (applied.status !== 0) {
  console.error(`git apply failed: ${applied.stderr}`);
  process.exit(2);
}
const changed = spawnSync("git", ["diff", "--stat"], { cwd: "/workspace", encoding: "utf8" }).stdout.trim();
event("command", { command: "git diff --stat", output: changed });

if (task.test_command) {
  event("tool_call", { tool: "run", command: task.test_command });
  const t = spawnSync("sh", ["-c", task.test_command], { cwd: "/workspace", encoding: "utf8" });
  event("tool_result", { tool: "run", exit_code: t.status, output: (t.stdout + t.stderr).slice(-2000) });
}

const firstLine = (task.issue.title || "the issue").replace(/\s+/g, " ").trim();
writeFileSync("/bosun/result.json", JSON.stringify({
  summary: `Applied the patch given in issue #${task.issue.number}.\n\n${"```"}\n${changed}\n${"```"}`,
  title: `Fix: ${firstLine}`,
}));
event("model_message", { text: "Done." });
