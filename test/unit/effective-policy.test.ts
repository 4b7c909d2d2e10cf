// The merge, table by table: Bosun's defaults, the org's top level (ceilings), per-repository
// overrides, and the repository's own choices. Asking above a ceiling gets exactly the ceiling's
// answer, and a message that names the rule and where it came from.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseOrgPolicy } from "../../src/config/org-policy.ts";
import { parseRepoConfig } from "../../src/config/repo-config.ts";
import { agentCodeSecrets, resolvePolicy, type OperatorSettings } from "../../src/policy/effective-policy.ts";

const operator: OperatorSettings = { image: "bosun/agent-base:latest", cliAgentImage: "bosun/agent-clis:latest", universalImage: "bosun/agent-universal:latest", defaultAgentCommand: "node /bosun/agents/patch-agent.mjs", runtime: "runc", memoryMb: 2048, cpus: 2, pids: 512, diskMb: 10240 };
const presetHosts = (presets: string[]): string[] => presets.flatMap((p) => ({ npm: ["registry.npm.test"], pypi: ["pypi.test", "files.pypi.test"] } as Record<string, string[]>)[p] ?? []);
const policySource = "acme/.github: .github/bosun.yml";

function resolve(orgYaml: string | null, repoYaml: string | null, repo = "app", op: Partial<OperatorSettings> = {}, followUp = false) {
  const org = orgYaml === null ? null : parseOrgPolicy(orgYaml);
  if (org && !org.ok) throw new Error(JSON.stringify(org.problems));
  const cfg = parseRepoConfig(repoYaml);
  if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
  return resolvePolicy({ org: org?.policy ?? null, policySource, repo, config: cfg.config, raw: cfg.raw, operator: { ...operator, ...op }, presetHosts, followUp });
}

const orgWithOverrides = `
sandbox:
  images: [acme/rust:1]
  limits: { agent_minutes: 60, memory_mb: 1024 }
  phases:
    setup: { presets: [npm], hosts: ["*.mirror.acme.test", "git.acme.test:8443"], secrets: [NPM_TOKEN] }
    agent: { network: none, secrets: [] }
repositories:
  - match: "api-*"
    sandbox:
      limits: { agent_minutes: 120 }
      phases:
        agent: { network: allowlist, hosts: [model.acme.test], secrets: [MODEL_KEY], secrets_reach_agent_code: true }
  - match: [api-legacy, "*-frozen"]
    enabled: false
    modes: [plan]
`;

interface Case {
  name: string;
  org: string | null;
  repoFile: string | null;
  repo?: string;
  op?: Partial<OperatorSettings>;
  /** Dotted paths into the effective policy (or `sources.KEY`, `matched`) and their expected values. */
  expect: Record<string, unknown>;
  /** Each adjustment as "key ← rule", in order, with the message matching the regexp. */
  adjustments?: [string, string, RegExp][];
  refusal?: [string, RegExp];
}

const cases: Case[] = [
  {
    name: "no org policy, no repository file: Bosun's defaults",
    org: null, repoFile: null,
    expect: {
      "rules.enabled": true, "rules.modes": ["plan", "pull_request"], "rules.who_may_start.min_permission": "write", "image": "bosun/agent-base:latest",
      "agent.kind": "default", "runtime": "runc", "limits.agent_minutes": 30, "limits.memory_mb": 2048, "limits.cpus": 2,
      "phases.setup.network": "allowlist", "phases.agent.network": "none", "rules.protected_paths": [".github/workflows/**", ".github/actions/**", "CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".github/bosun.yml"],
      "sources.limits.memory_mb": "the operator's BOSUN_SANDBOX_MEMORY_MB", "sources.require_protection_gate": "Bosun's default", "matched": [],
    },
  },
  {
    name: "the org's top level applies to every repository",
    org: orgWithOverrides, repoFile: null, repo: "web",
    expect: { "limits.memory_mb": 1024, "sources.limits.memory_mb": policySource, "phases.setup.presets": ["npm"], "phases.setup.secrets": ["NPM_TOKEN"], "phases.agent.network": "none", "matched": [] },
  },
  {
    name: "a matching override wins key by key; the rest of the top level stays",
    org: orgWithOverrides, repoFile: "agent:\n  timeout_minutes: 90\n", repo: "api-billing",
    expect: {
      "limits.agent_minutes": 90, "sources.limits.agent_minutes": ".github/bosun.yml", "limits.memory_mb": 1024,
      "phases.agent.network": "allowlist", "phases.agent.hosts": ["model.acme.test"], "phases.agent.secrets": ["MODEL_KEY"],
      "sources.sandbox.phases.agent.network": `${policySource}, repositories[0] (api-*)`, "phases.setup.presets": ["npm"], "matched": [0],
    },
  },
  {
    name: "later matches override earlier ones; a list of globs matches any",
    org: orgWithOverrides, repoFile: null, repo: "api-legacy",
    expect: { "rules.enabled": false, "rules.modes": ["plan"], "sources.enabled": `${policySource}, repositories[1] (api-legacy, *-frozen)`, "phases.agent.network": "allowlist", "matched": [0, 1] },
  },
  {
    name: "globs are case-insensitive, like GitHub's names",
    org: orgWithOverrides, repoFile: null, repo: "Billing-Frozen",
    expect: { "rules.enabled": false, "matched": [1] },
  },
  {
    name: "a limit above the ceiling gets the ceiling",
    org: orgWithOverrides, repoFile: "agent:\n  timeout_minutes: 600\n", repo: "web",
    expect: { "limits.agent_minutes": 60, "sources.limits.agent_minutes": policySource },
    adjustments: [["agent.timeout_minutes", "sandbox.limits.agent_minutes", /^`agent\.timeout_minutes`: asked for 600 minutes, given the ceiling 60 \(`sandbox\.limits\.agent_minutes`, acme\/\.github: \.github\/bosun\.yml\)\.$/]],
  },
  {
    name: "the same limit within an override's higher ceiling is given",
    org: orgWithOverrides, repoFile: "agent:\n  timeout_minutes: 100\n", repo: "api-billing",
    expect: { "limits.agent_minutes": 100 },
    adjustments: [],
  },
  {
    name: "memory above the org's ceiling gets the ceiling",
    org: orgWithOverrides, repoFile: "sandbox:\n  memory_mb: 4096\n", repo: "web",
    expect: { "limits.memory_mb": 1024 },
    adjustments: [["sandbox.memory_mb", "sandbox.limits.memory_mb", /asked for 4096, given the ceiling 1024 \(`sandbox\.limits\.memory_mb`, acme/]],
  },
  {
    name: "the org cannot raise the operator's ceiling",
    org: "sandbox:\n  limits:\n    memory_mb: 8192\n", repoFile: "sandbox:\n  memory_mb: 8192\n",
    expect: { "limits.memory_mb": 2048, "sources.limits.memory_mb": "the operator's BOSUN_SANDBOX_MEMORY_MB" },
    adjustments: [
      ["sandbox.limits.memory_mb", "sandbox.limits.memory_mb", /the org asks for 8192, above the operator's BOSUN_SANDBOX_MEMORY_MB of 2048, so 2048 holds/],
      ["sandbox.memory_mb", "sandbox.limits.memory_mb", /asked for 8192, given the ceiling 2048 \(`sandbox\.limits\.memory_mb`, the operator's BOSUN_SANDBOX_MEMORY_MB\)/],
    ],
  },
  {
    name: "disk: the org lowers the operator's ceiling, and a repository asking above it gets the org's",
    org: "sandbox:\n  limits:\n    disk_mb: 4096\n", repoFile: "sandbox:\n  disk_mb: 8192\n",
    expect: { "limits.disk_mb": 4096, "sources.limits.disk_mb": policySource },
    adjustments: [["sandbox.disk_mb", "sandbox.limits.disk_mb", /asked for 8192, given the ceiling 4096 \(`sandbox\.limits\.disk_mb`, acme/]],
  },
  {
    name: "disk: an org asking above the operator's BOSUN_SANDBOX_DISK_MB is held to it",
    org: "sandbox:\n  limits:\n    disk_mb: 20480\n", repoFile: "sandbox:\n  disk_mb: 512\n",
    expect: { "limits.disk_mb": 512, "sources.limits.disk_mb": ".github/bosun.yml" },
    adjustments: [["sandbox.limits.disk_mb", "sandbox.limits.disk_mb", /the org asks for 20480, above the operator's BOSUN_SANDBOX_DISK_MB of 10240, so 10240 holds/]],
  },
  {
    name: "a limit below the ceiling is the repository's choice",
    org: orgWithOverrides, repoFile: "sandbox:\n  memory_mb: 512\n  cpus: 0.5\n", repo: "web",
    expect: { "limits.memory_mb": 512, "limits.cpus": 0.5, "sources.limits.cpus": ".github/bosun.yml" },
    adjustments: [],
  },
  {
    name: "a host outside the allowed ones is not given; one inside a wildcard or a preset is",
    org: orgWithOverrides, repoFile: "sandbox:\n  phases:\n    setup:\n      hosts: [pkgs.mirror.acme.test, registry.npm.test, evil.test, 'git.acme.test:22', 'git.acme.test:8443']\n", repo: "web",
    expect: { "phases.setup.hosts": ["pkgs.mirror.acme.test", "registry.npm.test", "git.acme.test:8443"], "phases.setup.presets": ["npm"] },
    adjustments: [["sandbox.phases.setup.hosts", "sandbox.phases.setup.hosts", /^`sandbox\.phases\.setup\.hosts`: `evil\.test`, `git\.acme\.test:22` not given: outside the org's hosts and presets for setup \(`sandbox\.phases\.setup\.hosts`, acme/]],
  },
  {
    name: "a wildcard wider than the org's is not given",
    org: orgWithOverrides, repoFile: "sandbox:\n  phases:\n    setup:\n      hosts: ['*.acme.test']\n", repo: "web",
    expect: { "phases.setup.hosts": [] },
    adjustments: [["sandbox.phases.setup.hosts", "sandbox.phases.setup.hosts", /`\*\.acme\.test` not given/]],
  },
  {
    name: "a preset the org does not allow is not given",
    org: orgWithOverrides, repoFile: "sandbox:\n  phases:\n    setup:\n      presets: [npm, pypi]\n", repo: "web",
    expect: { "phases.setup.presets": ["npm"] },
    adjustments: [["sandbox.phases.setup.presets", "sandbox.phases.setup.presets", /`pypi` not given: outside the org's presets for setup \(`npm`\)/]],
  },
  {
    name: "a secret the org does not give the phase is not given",
    org: orgWithOverrides, repoFile: "sandbox:\n  phases:\n    setup:\n      secrets: [NPM_TOKEN, DEPLOY_KEY]\n    agent:\n      secrets: [NPM_TOKEN]\n", repo: "web",
    expect: { "phases.setup.secrets": ["NPM_TOKEN"], "phases.agent.secrets": [] },
    adjustments: [
      ["sandbox.phases.setup.secrets", "sandbox.phases.setup.secrets", /`DEPLOY_KEY` not given: the org does not give it to the setup phase \(`sandbox\.phases\.setup\.secrets`, acme/],
      ["sandbox.phases.agent.secrets", "sandbox.phases.agent.secrets", /`NPM_TOKEN` not given: the org does not give it to the agent phase \(`sandbox\.phases\.agent\.secrets`, acme/],
    ],
  },
  {
    name: "a repository may take less: no secrets, no network",
    org: orgWithOverrides, repoFile: "sandbox:\n  phases:\n    setup:\n      network: none\n      secrets: []\n", repo: "web",
    expect: { "phases.setup.network": "none", "phases.setup.secrets": [], "sources.sandbox.phases.setup.network": ".github/bosun.yml" },
    adjustments: [],
  },
  {
    name: "a network the org does not give is not given",
    org: null, repoFile: "sandbox:\n  phases:\n    test:\n      network: allowlist\n",
    expect: { "phases.test.network": "none" },
    adjustments: [["sandbox.phases.test.network", "sandbox.phases.test.network", /asked for `allowlist`, given `none`: the org gives this phase no network \(`sandbox\.phases\.test\.network`, Bosun's default\)/]],
  },
  {
    name: "each phase keeps its own rules",
    org: "sandbox:\n  phases:\n    agent: { network: allowlist, hosts: [model.test] }\n    test: { network: none }\n", repoFile: null,
    expect: { "phases.agent.network": "allowlist", "phases.agent.hosts": ["model.test"], "phases.test.network": "none", "phases.test.hosts": [] },
  },
  {
    name: "an image the org allows",
    org: orgWithOverrides, repoFile: "image: acme/rust:1\n", repo: "web",
    expect: { image: "acme/rust:1", "sources.image": ".github/bosun.yml" },
  },
  {
    name: "an image the org does not allow refuses the run, naming the rule",
    org: orgWithOverrides, repoFile: "image: evil/miner:latest\n", repo: "web",
    expect: {},
    refusal: ["sandbox.images", /^`image`: `evil\/miner:latest` is not allowed \(`sandbox\.images`, acme\/\.github: \.github\/bosun\.yml\); allowed: `bosun\/agent-base:latest`, `bosun\/agent-clis:latest`, `bosun\/agent-universal:latest`, `acme\/rust:1`\./],
  },
  {
    name: "the org's default image: for a repository that names none",
    org: "sandbox:\n  default_image: bosun/agent-universal:latest\n", repoFile: null,
    expect: { image: "bosun/agent-universal:latest", "sources.image": `\`sandbox.default_image\` (${policySource})`, "rules.sandbox.default_image": "bosun/agent-universal:latest" },
  },
  {
    name: "the org's default image may be one it lists in sandbox.images; overrides for other repositories leave it",
    org: "sandbox:\n  images: [acme/rust:1]\n  default_image: acme/rust:1\nrepositories:\n  - match: web\n    sandbox: { default_image: bosun/agent-universal:latest }\n  - match: legacy\n    sandbox: { default_image: null }\n", repoFile: null,
    expect: { image: "acme/rust:1", "sources.image": `\`sandbox.default_image\` (${policySource})` },
  },
  {
    name: "an override's default image wins for the repositories it matches",
    org: "sandbox:\n  images: [acme/rust:1]\n  default_image: acme/rust:1\nrepositories:\n  - match: web\n    sandbox: { default_image: bosun/agent-universal:latest }\n", repoFile: null, repo: "web",
    expect: { image: "bosun/agent-universal:latest", "sources.image": `\`sandbox.default_image\` (${policySource}, repositories[0] (web))` },
  },
  {
    name: "null in an override goes back to the operator's BOSUN_AGENT_IMAGE",
    org: "sandbox:\n  default_image: bosun/agent-universal:latest\nrepositories:\n  - match: legacy\n    sandbox: { default_image: null }\n", repoFile: null, repo: "legacy",
    expect: { image: "bosun/agent-base:latest", "sources.image": "the operator's BOSUN_AGENT_IMAGE" },
  },
  {
    name: "the repository's own image wins over the org's default",
    org: "sandbox:\n  images: [acme/rust:1]\n  default_image: bosun/agent-universal:latest\n", repoFile: "image: acme/rust:1\n",
    expect: { image: "acme/rust:1", "sources.image": ".github/bosun.yml" },
  },
  {
    name: "the operator's universal image is decided by BOSUN_UNIVERSAL_AGENT_IMAGE, and allowed as the operator's",
    org: "sandbox:\n  default_image: ops/universal:3\n", repoFile: null, op: { universalImage: "ops/universal:3" },
    expect: { image: "ops/universal:3" },
  },
  {
    name: "a default image the org does not allow refuses every run, whatever the repository names",
    org: "sandbox:\n  images: [acme/rust:1]\n  default_image: acme/everything:2\n", repoFile: "image: acme/rust:1\n",
    expect: {},
    refusal: ["sandbox.default_image", /^`sandbox\.default_image`: `acme\/everything:2` is not an image the org allows \(acme\/\.github: \.github\/bosun\.yml\); allowed: `bosun\/agent-base:latest`, `bosun\/agent-clis:latest`, `bosun\/agent-universal:latest`, `acme\/rust:1` \(the operator's BOSUN_AGENT_IMAGE, BOSUN_CLI_AGENT_IMAGE and BOSUN_UNIVERSAL_AGENT_IMAGE, and `sandbox\.images`\)\. An org admin can add it under `sandbox\.images` or name an allowed one\.$/],
  },
  {
    name: "a repository's own agent command when the org allows only the default agent",
    org: "agents: [default]\n", repoFile: "agent:\n  command: ./my-agent\n",
    expect: {},
    refusal: ["agents", /the repository asks for its own agent command `\.\/my-agent`, which the org's `agents` does not allow/],
  },
  {
    name: "gVisor: the org may require it; the operator's requirement holds whatever the org says",
    org: "sandbox:\n  runtime: runsc\n", repoFile: null,
    expect: { runtime: "runsc", "sources.runtime": policySource },
  },
  {
    name: "gVisor: an org asking for runc cannot loosen the operator's runsc",
    org: "sandbox:\n  runtime: runc\n", repoFile: null, op: { runtime: "runsc" },
    expect: { runtime: "runsc", "sources.runtime": "the operator's BOSUN_RUNTIME" },
  },
  {
    name: "budgets: an override can lift a top-level limit with null",
    org: "budgets:\n  runs_per_day_per_repository: 5\n  runs_per_day_per_org: 50\nrepositories:\n  - match: app\n    budgets:\n      runs_per_day_per_repository: null\n", repoFile: null,
    expect: { "rules.budgets.runs_per_day_per_repository": null, "rules.budgets.runs_per_day_per_org": 50 },
  },
  {
    name: "who may start: an override changes one key and keeps the others",
    org: "who_may_start:\n  min_permission: maintain\n  teams: [core]\nrepositories:\n  - match: app\n    who_may_start:\n      min_permission: write\n", repoFile: null,
    expect: { "rules.who_may_start": { min_permission: "write", users: [], teams: ["core"] } },
  },
];

function at(obj: unknown, path: string): unknown {
  let v: unknown = obj;
  for (const k of path.split(".")) v = (v as Record<string, unknown> | undefined)?.[k];
  return v;
}

for (const c of cases) {
  test(`policy merge: ${c.name}`, () => {
    const r = resolve(c.org, c.repoFile, c.repo, c.op);
    if (c.refusal) {
      assert.ok(!r.ok, "the run is refused");
      assert.equal(r.refusal.rule, c.refusal[0]);
      assert.match(r.refusal.message, c.refusal[1]);
      return;
    }
    assert.ok(r.ok, r.ok ? "" : r.refusal.message);
    for (const [path, want] of Object.entries(c.expect)) {
      const got: unknown = path === "matched" ? r.matched : path.startsWith("sources.") ? r.sources[path.slice("sources.".length)] : at(r.policy, path);
      assert.deepEqual(got, want, path);
    }
    if (c.adjustments) {
      assert.deepEqual(r.adjustments.map((a) => [a.key, a.rule]), c.adjustments.map(([k, rule]) => [k, rule]), r.adjustments.map((a) => a.message).join("\n"));
      c.adjustments.forEach(([, , message], i) => assert.match(r.adjustments[i]?.message ?? "", message));
    }
  });
}

test("an override entry with an unknown key names its line", () => {
  const r = parseOrgPolicy("repositories:\n  - match: app\n    sandbox:\n      imagez: [x]\n");
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => [p.line, p.key]), [[4, "repositories.0.sandbox.imagez"]]);
});

test("the builtin agent: the org's model, reachable by the agent phase, with its key given to that phase only", () => {
  const org = `
model: { base_url: "https://model.acme.test/v1", name: acme-coder, api_key_secret: MODEL_KEY, max_steps: 12 }
sandbox:
  phases:
    agent: { network: allowlist, hosts: [model.acme.test], secrets: [MODEL_KEY, OTHER] }
`;
  const ok = resolve(org, "agent:\n  use: builtin\nsandbox:\n  phases:\n    agent:\n      secrets: []\n");
  assert.ok(ok.ok, ok.ok ? "" : ok.refusal.message);
  assert.equal(ok.policy.agent.kind, "builtin");
  assert.equal(ok.policy.agent.command, "node /bosun/agents/builtin-agent.mjs");
  assert.deepEqual(ok.policy.phases.agent.secrets, ["MODEL_KEY"], "the repository gave up its secrets; the model's key stays");
  assert.deepEqual(ok.policy.phases.setup.secrets, []);
  assert.deepEqual(ok.policy.phases.test.secrets, []);
  assert.equal(ok.policy.rules.model.max_steps, 12);
  assert.equal(ok.sources["model.name"], policySource);

  const refusals: [string, string | null, RegExp][] = [
    ["", "agent:\n  use: builtin\n", /names no model \(`model.base_url` and `model.name`\)/],
    [`model: { base_url: "https://model.acme.test/v1", name: m }\n`, "agent:\n  use: builtin\n", /the model is at `model\.acme\.test:443`, which the agent phase may not reach \(network `none`/],
    [`model: { base_url: "https://model.acme.test/v1", name: m, api_key_secret: MODEL_KEY }\nsandbox:\n  phases:\n    agent: { network: allowlist, hosts: [model.acme.test] }\n`, "agent:\n  use: builtin\n", /the secret `MODEL_KEY`, which the org does not give the agent phase/],
    [`agents: [default]\nmodel: { base_url: "http://m.test/v1", name: m }\n`, "agent:\n  use: builtin\n", /asks for Bosun's builtin agent, which the org's `agents` does not allow/],
    ["", "agent:\n  use: builtin\n  command: make fix\n", /names both its own `command` and `use: builtin`/],
  ];
  for (const [orgYaml, repoYaml, message] of refusals) {
    const r = resolve(orgYaml, repoYaml);
    assert.ok(!r.ok, `refused: ${orgYaml} ${repoYaml ?? ""}`);
    assert.match(r.refusal.message, message);
  }
});

test("codex and claude: the same model block and refusals as the builtin agent, in the operator's CLI image", () => {
  const org = `
model: { base_url: "https://model.acme.test/v1", name: acme-coder, api_key_secret: MODEL_KEY }
sandbox:
  images: [acme/clis:2]
  phases:
    agent: { network: allowlist, hosts: [model.acme.test], secrets: [MODEL_KEY] }
`;
  for (const [kind, command] of [["codex", "node /bosun/agents/codex-agent.mjs"], ["claude", "node /bosun/agents/claude-agent.mjs"]] as const) {
    const ok = resolve(org, `agent:\n  use: ${kind}\n`);
    assert.ok(ok.ok, ok.ok ? "" : ok.refusal.message);
    assert.equal(ok.policy.agent.kind, kind);
    assert.equal(ok.policy.agent.command, command);
    assert.equal(ok.policy.image, "bosun/agent-clis:latest", "the operator's CLI image by default");
    assert.equal(ok.sources["image"], "the operator's BOSUN_CLI_AGENT_IMAGE");
    assert.deepEqual(ok.policy.phases.agent.secrets, ["MODEL_KEY"]);

    const own = resolve(org, `agent:\n  use: ${kind}\nimage: acme/clis:2\n`);
    assert.ok(own.ok && own.policy.image === "acme/clis:2" && own.sources["image"] === ".github/bosun.yml", "an image the org allows, when the repository names one");
    const operatorImage = resolve(org, `agent:\n  use: ${kind}\n`, "app", { cliAgentImage: "ops/clis:7" });
    assert.ok(operatorImage.ok && operatorImage.policy.image === "ops/clis:7", "BOSUN_CLI_AGENT_IMAGE decides the default");
    const stranger = resolve(org, `agent:\n  use: ${kind}\nimage: evil/miner:1\n`);
    assert.ok(!stranger.ok);
    assert.match(stranger.refusal.message, /`evil\/miner:1` is not allowed .*allowed: `bosun\/agent-base:latest`, `bosun\/agent-clis:latest`, `bosun\/agent-universal:latest`, `acme\/clis:2`/);

    const name = kind === "codex" ? "the Codex CLI" : "Claude Code";
    const refusals: [string, string, RegExp][] = [
      ["", `agent:\n  use: ${kind}\n`, new RegExp(`^\`agent.use: ${kind}\`: the org's policy names no model`)],
      [`model: { base_url: "http://model.acme.test:8080", name: m }\nsandbox:\n  phases:\n    agent: { network: allowlist, hosts: [model.acme.test] }\n`, `agent:\n  use: ${kind}\n`, /the model is at `model\.acme\.test:8080`, which the agent phase may not reach/],
      [`model: { base_url: "https://model.acme.test/v1", name: m, api_key_secret: MODEL_KEY }\nsandbox:\n  phases:\n    agent: { network: allowlist, hosts: [model.acme.test] }\n`, `agent:\n  use: ${kind}\n`, /the secret `MODEL_KEY`, which the org does not give the agent phase/],
      [`agents: [default, builtin]\nmodel: { base_url: "http://m.test/v1", name: m }\n`, `agent:\n  use: ${kind}\n`, new RegExp(`asks for ${name}, which the org's \`agents\` does not allow .*allowed: \`default\`, \`builtin\``)],
      ["", `agent:\n  use: ${kind}\n  command: make fix\n`, new RegExp(`names both its own \`command\` and \`use: ${kind}\``)],
    ];
    for (const [orgYaml, repoYaml, message] of refusals) {
      const r = resolve(orgYaml, repoYaml);
      assert.ok(!r.ok, `refused: ${orgYaml} ${repoYaml}`);
      assert.match(r.refusal.message, message);
    }
  }
  // The CLI image is the operator's, so any agent may run in it; the default agent keeps BOSUN_AGENT_IMAGE.
  const plain = resolve(null, "image: bosun/agent-clis:latest\n");
  assert.ok(plain.ok && plain.policy.image === "bosun/agent-clis:latest" && plain.policy.agent.kind === "default");
  const defaults = resolve(null, null);
  assert.ok(defaults.ok && defaults.policy.image === "bosun/agent-base:latest");
  // The org's default image is for the other agents: the CLI agents need their CLIs.
  const universal = resolve(org.replace("sandbox:\n", "sandbox:\n  default_image: bosun/agent-universal:latest\n"), "agent:\n  use: codex\n");
  assert.ok(universal.ok && universal.policy.image === "bosun/agent-clis:latest" && universal.sources["image"] === "the operator's BOSUN_CLI_AGENT_IMAGE");
  assert.deepEqual(defaults.ok && defaults.policy.rules.agents, ["default", "command", "builtin", "codex", "claude"], "allowed by default, like builtin");
});

test("code the agent wrote gets no secret unless the org sets secrets_reach_agent_code for the phase", () => {
  const org = `
model: { api_key_secret: MODEL_KEY }
sandbox:
  phases:
    setup: { secrets: [NPM_TOKEN] }
    agent: { secrets: [MODEL_KEY, DEPLOY_KEY] }
    test: { secrets: [TEST_DB] }
`;
  const first = resolve(org, null);
  assert.ok(first.ok, first.ok ? "" : first.refusal.message);
  assert.deepEqual(first.policy.phases.setup.secrets, ["NPM_TOKEN"], "setup of a first run runs the base branch's code: it keeps its secrets");
  assert.deepEqual(first.policy.phases.agent.secrets, ["MODEL_KEY"], "the agent phase keeps only the model's key");
  assert.deepEqual(first.policy.phases.test.secrets, [], "the tests run the agent's commit");
  assert.deepEqual(first.policy.withheldSecrets, {
    agent: { secrets: ["DEPLOY_KEY"], reason: "the agent phase runs code the agent writes, and only the model's key (`model.api_key_secret`) reaches it; the org's policy does not set `sandbox.phases.agent.secrets_reach_agent_code`" },
    test: { secrets: ["TEST_DB"], reason: "the test phase runs the agent's commit; the org's policy does not set `sandbox.phases.test.secrets_reach_agent_code`" },
  });
  assert.deepEqual(first.adjustments.map((a) => [a.key, a.rule, a.given]), [
    ["sandbox.phases.agent.secrets", "sandbox.phases.agent.secrets_reach_agent_code", ["MODEL_KEY"]],
    ["sandbox.phases.test.secrets", "sandbox.phases.test.secrets_reach_agent_code", []],
  ]);
  assert.match(first.adjustments[1]?.message ?? "", /^`sandbox\.phases\.test\.secrets`: `TEST_DB` withheld: the test phase runs the agent's commit; .*\(`sandbox\.phases\.test\.secrets_reach_agent_code`, Bosun's default\)\.$/);

  // A follow-up's setup installs from the previous agent's commit.
  const followUp = resolve(org, null, "app", {}, true);
  assert.ok(followUp.ok);
  assert.deepEqual(followUp.policy.phases.setup.secrets, []);
  assert.deepEqual(followUp.policy.withheldSecrets?.setup?.secrets, ["NPM_TOKEN"]);
  assert.match(followUp.policy.withheldSecrets?.setup?.reason ?? "", /previous agent's commit/);

  // The org says so in words, per phase (an override may too); the repository still narrows.
  const flagged = `${org}repositories:
  - match: app
    sandbox:
      phases:
        test: { secrets_reach_agent_code: true }
        agent: { secrets_reach_agent_code: true }
`;
  const given = resolve(flagged, null);
  assert.ok(given.ok);
  assert.deepEqual(given.policy.phases.test.secrets, ["TEST_DB"]);
  assert.deepEqual(given.policy.phases.agent.secrets, ["MODEL_KEY", "DEPLOY_KEY"]);
  assert.deepEqual(given.policy.withheldSecrets, {});
  assert.equal(given.sources["sandbox.phases.test.secrets_reach_agent_code"], `${policySource}, repositories[0] (app)`);
  const other = resolve(flagged, null, "web");
  assert.ok(other.ok && other.policy.phases.test.secrets.length === 0, "the override is for app only");

  // Without a model key, the agent phase gets nothing.
  const noKey = resolve("sandbox:\n  phases:\n    agent: { secrets: [DEPLOY_KEY] }\n", null);
  assert.ok(noKey.ok && noKey.policy.phases.agent.secrets.length === 0);

  // A repository cannot set the flag: it is the org's ceiling.
  const repo = parseRepoConfig("sandbox:\n  phases:\n    test:\n      secrets_reach_agent_code: true\n");
  assert.ok(!repo.ok);
  assert.match(JSON.stringify(repo.problems), /secrets_reach_agent_code/);
});

test("the setup before the tests runs the agent's commit: its secrets only with the org's flag", () => {
  const phase = { secrets: ["NPM_TOKEN"], secrets_reach_agent_code: false };
  assert.deepEqual(agentCodeSecrets("setup", phase, { followUp: false, modelKey: null }).given, ["NPM_TOKEN"], "the agent's setup installs the base commit");
  const tests = agentCodeSecrets("setup", phase, { followUp: false, modelKey: null, testSetup: true });
  assert.deepEqual([tests.given, tests.withheld], [[], ["NPM_TOKEN"]]);
  assert.match(tests.reason, /the setup before the tests installs the agent's commit, running its install scripts/);
  assert.deepEqual(agentCodeSecrets("setup", { ...phase, secrets_reach_agent_code: true }, { followUp: false, modelKey: null, testSetup: true }).given, ["NPM_TOKEN"]);
});
