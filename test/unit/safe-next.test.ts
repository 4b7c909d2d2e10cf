// Where sign-in sends people: Bosun's own pages only, whatever `next` says.
import { test } from "node:test";
import assert from "node:assert/strict";
import { safeNext } from "../../src/web/safe-next.ts";
import { homeNext, hostileNext } from "../helpers/hostile-next.ts";

for (const publicUrl of ["https://bosun.example.com/", "http://127.0.0.1:3000"]) {
  test(`a hostile next goes to /runs (public URL ${publicUrl})`, () => {
    for (const [next, why] of hostileNext) assert.equal(safeNext(next, publicUrl), "/runs", `${JSON.stringify(next)}: ${why}`);
  });
  test(`Bosun's own paths are kept (public URL ${publicUrl})`, () => {
    for (const [next, kept] of homeNext) assert.equal(safeNext(next, publicUrl), kept, next);
    assert.equal(safeNext(undefined, publicUrl), "/runs");
  });
}
