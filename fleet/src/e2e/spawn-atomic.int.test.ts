/** A spawn that fails at any step leaves no directory, no registry row, no token and no process behind. */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { APP_DIR } from "../config.js";
import { type FleetHarness, fleetHarness } from "../testing/harness.js";

let h: FleetHarness;
let tpl: string;
before(async () => {
  tpl = mkdtempSync("/tmp/twl-tpl-");
  cpSync(join(APP_DIR, "profile", "template-stock-research-pro"), tpl, { recursive: true });
  // A template whose config the agent refuses: the profile starts, exits at once, and spawn must roll back.
  writeFileSync(join(tpl, "config.yaml.template"), "model: [unclosed {{profile}}\n");
  h = await fleetHarness({ FLEET_TEMPLATE_DIR: tpl, FLEET_START_TIMEOUT_MS: "5000" });
  await h.startDaemon();
});
after(async () => {
  await h?.cleanup();
  rmSync(tpl, { recursive: true, force: true });
});

test("a failed spawn is rolled back completely and says why", async () => {
  const r = h.cli(["spawn", "doomed-1", "--tier", "prefab"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /exited before it became healthy|not healthy/);
  assert.deepEqual(readdirSync(join(h.ops, "profiles")), []);
  assert.deepEqual(h.cliJson<{ profiles: unknown[] }>(["list"]).profiles, []);
  assert.equal((await h.profilePids()).size, 0);
  const tokens = JSON.parse(readFileSync(join(h.ops, "mcp", "tokens.json"), "utf8")) as { tokens: Record<string, unknown> };
  assert.deepEqual(tokens.tokens, {});
  const ev = h.cliJson<{ events: Array<{ action: string; result: string }> }>(["events", "doomed-1"]).events;
  assert.deepEqual(
    ev.map((e) => [e.action, e.result]),
    [["spawn", "error"]],
  );
});
