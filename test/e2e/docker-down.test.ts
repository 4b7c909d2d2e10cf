// Docker unreachable: the run fails with words an operator can act on, and no token lives on.
import { test } from "node:test";
import assert from "node:assert/strict";
import Docker from "dockerode";
import { DockerSandbox } from "../../src/sandbox/docker-sandbox.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

test("a run fails clearly when the Docker engine cannot be reached", async (t) => {
  const unreachable = new DockerSandbox(new Docker({ socketPath: "/nonexistent/docker.sock" }));
  const w = await startBosunWorld(t, {}, { sandbox: unreachable });
  await seedDemoRepo(w.gh, "nodocker");
  const maya = w.gh.as("maya");
  const issue = await maya.rest.issues.create({ owner: "acme", repo: "nodocker", title: demoIssue.title, body: demoIssue.body });
  await maya.rest.issues.addLabels({ owner: "acme", repo: "nodocker", issue_number: issue.data.number, labels: ["bosun"] });
  const run = await w.waitForRun({ repo: "acme/nodocker", issue: issue.data.number });
  assert.equal(run.state, "failed");
  const progress = [...w.gh.repo("acme/nodocker").comments.values()].find((c) => c.body.includes("bosun:progress"));
  assert.match(progress?.body ?? "", /Bosun could not reach its Docker engine, so the agent did not start\. An operator needs to look at the Docker host\./);
  assert.match(progress?.body ?? "", /Docker is not reachable \(.*\): connect ENOENT \/nonexistent\/docker\.sock/);
  assert.ok(w.gh.installationTokens().every((tk) => tk.revokedAt));
});
