// A repository's dev container as Bosun reads it: JSON with comments, its lifecycle commands in
// each of their forms as one setup script, its variables as shell assignments, and what it refuses.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { envPrefix, parseDevcontainer } from "../../src/config/devcontainer.ts";

const path = ".devcontainer/devcontainer.json";

test("image, lifecycle commands in string, array and object forms, and variables", () => {
  const r = parseDevcontainer(`{
    // The image the team works in.
    "image": "bosun/agent-base:latest",
    "onCreateCommand": "npm ci",
    "updateContentCommand": ["echo", "it's updated"],
    "postCreateCommand": { "a": "echo a", "b": ["echo", "b"] },
    "containerEnv": { "GREETING": "hello \\"world\\" $HOME" },
    "remoteEnv": { "PATH": "\${containerEnv:PATH}:\${containerWorkspaceFolder}/node_modules/.bin", "UNSET": null },
  }`, path);
  assert.ok(r.ok, r.ok ? "" : r.message);
  assert.equal(r.value.image, "bosun/agent-base:latest");
  assert.equal(r.value.builds, null);
  assert.equal(r.value.setup, "( npm ci ) && ( 'echo' 'it'\\''s updated' ) && ( ( echo a ) && ( 'echo' 'b' ) )");
  assert.deepEqual(Object.keys(r.value.env), ["GREETING", "PATH"]);
  // What a shell makes of them: literal text stays literal, ${containerEnv:PATH} reads PATH.
  const out = execFileSync("sh", ["-c", `${envPrefix(r.value.env)}printf '%s|%s' "$GREETING" "$PATH"`], { env: { PATH: "/usr/bin:/bin", HOME: "/home/x" } }).toString();
  assert.equal(out, 'hello "world" $HOME|/usr/bin:/bin:/workspace/node_modules/.bin');
});

test("refusals name the file and the field", () => {
  const bad = (text: string) => { const r = parseDevcontainer(text, path); assert.ok(!r.ok); return r.message; };
  assert.match(bad("{ \"image\": "), /is not valid JSON with comments: .* at line 1/);
  assert.match(bad(`{ "remoteEnv": { "TOKEN": "\${localEnv:GITHUB_TOKEN}" } }`), /`remoteEnv\.TOKEN` in `\.devcontainer\/devcontainer\.json`: `\$\{localEnv:GITHUB_TOKEN\}` is not available in Bosun's sandbox/);
  assert.match(bad(`{ "containerEnv": { "HTTPS_PROXY": "http://elsewhere" } }`), /Bosun sets `HTTPS_PROXY` itself/);
  assert.match(bad(`{ "postCreateCommand": 3 }`), /`postCreateCommand`/);
  const built = parseDevcontainer(`{ "build": { "dockerfile": "Dockerfile" } }`, path);
  assert.ok(built.ok && built.value.builds === "build" && built.value.image === null);
});
