/**
 * Issue 17: the README's "Operating it" steps, literally, on a stopped platform: `hermes-admin up` -> `spawn` ->
 * `ask` gives a cited answer, with no other command (no `images build`, no `mcp up`). The harness fleet has its own
 * ops dir, data-service container name and port, so the operator's platform on this host is never touched; the
 * container is removed by its name and this fleet's label at the end.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { LABELS, MANAGED_BY } from "@twilight/core";
import { dockerClient } from "../docker/client.js";
import { type FleetHarness, fleetHarness } from "../testing/harness.js";
import { allocatePort } from "../workload/allocate.js";

describe("the README's first hour: up -> spawn -> ask, nothing else", { timeout: 600_000 }, () => {
  let h: FleetHarness;
  const svc = `twl-first-hour-${process.pid}`;
  const name = "first-1";
  const docker = dockerClient();

  before(async () => {
    const port = await allocatePort({ low: 19400, high: 19499 }, new Set());
    h = await fleetHarness({
      FLEET_MCP_CONTAINER: svc,
      FLEET_MCP_HOST_PORT: String(port),
      FLEET_MCP_URL_PREFAB: `http://127.0.0.1:${port}/mcp`,
      FLEET_MCP_URL_CONTAINER: `http://${svc}:9100/mcp`,
      FLEET_PORT_RANGE: "19300-19399",
    });
  });

  after(async () => {
    if (!h) return;
    h.cli(["rm", name, "--force", "--purge"]);
    h.cli(["down", "--all"]);
    const mine = await docker.listContainers({
      all: true,
      filters: { name: [svc], label: [`${LABELS.managedBy}=${MANAGED_BY}`] },
    });
    for (const c of mine)
      if (c.Names.includes(`/${svc}`))
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
    await h.cleanup();
  });

  test("up brings the platform up (daemon, images, data service seeded); spawn; ask answers with a verified cite", () => {
    const up = h.cli(["up"]);
    assert.equal(up.code, 0, `up: ${up.stderr}`);
    assert.match(up.stderr, /\[1\/5\] Docker Engine/);
    assert.match(up.stderr, /\[2\/5\] fleet daemon/);
    assert.match(up.stderr, /\[3\/5\] images/);
    assert.match(up.stderr, /\[4\/5\] data service/);
    assert.match(up.stderr, /\[5\/5\] model gateway\n {2}model gateway: no upstream configured, not started/);
    assert.match(up.stdout, /^platform up: fleet daemon at http:\/\/\S+ \(dashboard http:\/\/\S+\/ui\/\); data service at /);
    assert.doesNotMatch(up.stdout, /still seeding/, "up waits for the first backfill");

    const spawn = h.cli(["spawn", name, "--tier", "prefab"]);
    assert.equal(spawn.code, 0, `spawn: ${spawn.stderr}`);
    assert.doesNotMatch(spawn.stderr, /warning/, "every platform service the profile needs is up");

    const ask = h.cli(["ask", name, "latest price of 600519"]);
    assert.equal(ask.code, 0, `ask: ${ask.stderr}`);
    assert.match(ask.stdout, /600519\.SH\) closed at [\d,]+\.\d\d CNY on 2025-12-31 \[1\]/);
    assert.match(ask.stdout, /Sources \(signatures verified\):\n\[1\] tushare daily 600519\.SH/);
    assert.doesNotMatch(ask.stdout, /not available|still being filled/);
    assert.match(ask.stderr, /1 verified cite, model twilight-offline/);

    // and the same through --json: the session continues
    const session = /--session (\S+)\)/.exec(ask.stderr)?.[1] ?? "";
    const again = h.cliJson<{ session_id: string; citations: Array<{ api: string; as_of: string }> }>([
      "ask",
      name,
      "--session",
      session,
      "2024 fundamentals of 600519",
    ]);
    assert.equal(again.session_id, session);
    assert.equal(again.citations[0]?.api, "fina_indicator");
  });
});
