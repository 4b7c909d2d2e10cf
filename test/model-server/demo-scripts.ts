// What the scripted model says to fix the demo repository's bug (`add()` subtracts), per agent,
// in that agent's own tool names: the demo and the end-to-end tests replay these.
import type { ModelRequest, ScriptedTurn } from "./server.ts";

/** The last tool result must match, else the turn answers 400 and the test or demo says why. */
export const lastToolOutput = (must: RegExp) => (req: Pick<ModelRequest, "toolResults">): string | null => {
  const out = req.toolResults.at(-1)?.content ?? "";
  return must.test(out) ? null : `expected the last tool result to match ${must}, got ${JSON.stringify(out.slice(0, 300))}`;
};

export function builtinDemoScript(): ScriptedTurn[] {
  return [
    { say: "Let me look at add().", tools: [{ name: "read_file", input: { path: "src/add.js" } }], usage: { input_tokens: 900, output_tokens: 30 } },
    { expect: lastToolOutput(/return a - b;/), say: "It subtracts; it should add.", tools: [{ name: "replace_in_file", input: { path: "src/add.js", old: "return a - b;", new: "return a + b;" } }], usage: { input_tokens: 1000, output_tokens: 40 } },
    { expect: lastToolOutput(/replaced 1 occurrence/), tools: [{ name: "run_command", input: { command: "npm test" } }], usage: { input_tokens: 1100, output_tokens: 20 } },
    { expect: lastToolOutput(/exit code: 0/), tools: [{ name: "finish", input: { summary: "add() subtracted; it adds now, and the tests pass.", title: "Fix add() to add" } }], usage: { input_tokens: 1200, output_tokens: 50 } },
  ];
}

/** Codex applies its own patch format through its shell tool (`exec_command`). */
const codexPatch = [
  "apply_patch <<'PATCH'",
  "*** Begin Patch",
  "*** Update File: src/add.js",
  "@@ export function add(a, b) {",
  "-  return a - b;",
  "+  return a + b;",
  "*** End Patch",
  "PATCH",
].join("\n");

export function codexDemoScript(): ScriptedTurn[] {
  return [
    {
      expect: (req) => (req.toolNames.includes("exec_command") ? null : `Codex offered no exec_command: ${req.toolNames.join(", ")}`),
      say: "Let me look at add().", tools: [{ name: "exec_command", input: { cmd: "cat src/add.js" } }], usage: { input_tokens: 900, output_tokens: 30 },
    },
    { expect: lastToolOutput(/return a - b;/), tools: [{ name: "exec_command", input: { cmd: codexPatch } }], usage: { input_tokens: 1000, output_tokens: 40 } },
    { expect: lastToolOutput(/Success\. Updated the following files:\nM src\/add\.js/), tools: [{ name: "exec_command", input: { cmd: "npm test" } }], usage: { input_tokens: 1100, output_tokens: 20 } },
    { expect: lastToolOutput(/exited with code 0[\s\S]*add: 2 tests passed/), say: "Fix add() to add\n\nadd() subtracted; it adds now, and the tests pass.", usage: { input_tokens: 1200, output_tokens: 50 } },
  ];
}

export function claudeDemoScript(): ScriptedTurn[] {
  return [
    {
      expect: (req) => (["Read", "Edit", "Bash"].every((n) => req.toolNames.includes(n)) ? null : `Claude Code did not offer Read, Edit and Bash: ${req.toolNames.join(", ")}`),
      say: "Let me look at add().", tools: [{ name: "Read", input: { file_path: "/workspace/src/add.js" } }], usage: { input_tokens: 900, output_tokens: 30 },
    },
    { expect: lastToolOutput(/return a - b;/), tools: [{ name: "Edit", input: { file_path: "/workspace/src/add.js", old_string: "return a - b;", new_string: "return a + b;" } }], usage: { input_tokens: 1000, output_tokens: 40 } },
    { expect: lastToolOutput(/has been updated successfully/), tools: [{ name: "Bash", input: { command: "npm test", description: "Run the tests" } }], usage: { input_tokens: 1100, output_tokens: 20 } },
    { expect: lastToolOutput(/add: 2 tests passed/), say: "Fix add() to add\n\nadd() subtracted; it adds now, and the tests pass.", usage: { input_tokens: 1200, output_tokens: 50 } },
  ];
}

/** The scripted answers for an agent kind the demo can run against the scripted model. */
export const demoScripts: Record<string, () => ScriptedTurn[]> = { builtin: builtinDemoScript, codex: codexDemoScript, claude: claudeDemoScript };
