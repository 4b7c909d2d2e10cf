// The folder bound at /bosun/egress holds the proxy's socket: the sandbox connects to it but can
// add, replace or link nothing there (under compose Bosun and the sandbox user share uid 1000, so
// only the read-only bind keeps it out). A setup with the allowlist network tries, and still
// reaches the network through the socket afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../../src/audit/transcript.ts";
import { startBosunWorld } from "../../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo } from "../../helpers/seed.ts";

const attempt = [
  "touch /bosun/egress/planted 2>&1",
  "ln -s /etc/passwd /bosun/egress/link 2>&1",
  "rm -f /bosun/egress/sock 2>&1",
  "mv /bosun/egress/sock /bosun/egress/moved 2>&1",
  // gVisor cannot list a folder holding a host socket (EINVAL), so each name is looked up.
  "for f in sock planted link moved; do [ -e /bosun/egress/$f ] || [ -S /bosun/egress/$f ] && echo \"there: $f\"; done",
  // The socket still works: a request through the proxy is recorded (and refused: no host is listed).
  `node -e "require('http').get({ host: '127.0.0.1', port: 3128, path: 'http://not-listed.example/', headers: { host: 'not-listed.example' } }, (r) => console.log('proxy answered', r.statusCode)).on('error', (e) => console.log(e.code))"`,
].join("; ");

for (const runtime of ["runc", "runsc"] as const) {
  test(`under ${runtime}: the sandbox cannot write into /bosun/egress, and its socket still serves`, async (t) => {
    const w = await startBosunWorld(t, { BOSUN_RUNTIME: runtime });
    await seedDemoRepo(w.gh, "egress-folder", { files: { ".github/bosun.yml": `setup:\n  command: ${JSON.stringify(`${attempt}; exit 7`)}\n` } });
    const issue = await labelDemoIssue(w.gh, "egress-folder");
    const run = await w.waitForRun({ repo: "acme/egress-folder", issue });
    assert.equal(run.state, "failed", "the setup's exit 7 ends the run");
    const events = await readTranscript(w.bosun.pool, run.id);
    const setup = events.find((e) => e.kind === "command" && e.payload["phase"] === "setup" && "exit_code" in e.payload);
    const out = String(setup?.payload["output_tail"]);
    assert.equal(setup?.payload["exit_code"], 7, out);
    assert.deepEqual(out.match(/^there: .*$/gm), ["there: sock"], `nothing was added, removed or moved: ${out}`);
    assert.equal(out.match(/Read-only file system|Permission denied/g)?.length, 4, `each write refused: ${out}`);
    assert.match(out, /proxy answered 403/, out);
    assert.ok(events.some((e) => e.kind === "network" && e.payload["host"] === "not-listed.example" && e.payload["allowed"] === false), "the proxy recorded the request");
  });
}
