/**
 * Issue 5, end to end through the fleet: a container profile restarted by the fleet (not Docker) after its main process
 * is killed, and re-adopted (same container, no duplicate) after kill -9 of the daemon.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dockerClient } from "../docker/client.js";
import { buildImages } from "../images/index.js";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";

interface P {
  name: string;
  tier: string;
  status: string;
  container_id: string | null;
  restart_count: number;
  status_url: string;
}

describe("container tier under the fleet's supervision", () => {
  let h: FleetHarness;
  const name = "ctr-sup-1";
  const row = () => h.cliJson<{ profiles: P[] }>(["list", "--no-stats"]).profiles.find((p) => p.name === name) as P;
  const docker = dockerClient();

  before(async () => {
    await buildImages({ only: ["profile"] });
    h = await fleetHarness({ FLEET_RESTART_BASE_MS: "100", FLEET_HEALTH_INTERVAL_MS: "500", FLEET_PORT_RANGE: "19401-19499" });
    await h.startDaemon();
    const r = h.cli(["spawn", name, "--tier", "container"]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await h?.cleanup();
  });

  test("killing the container's main process: the fleet restarts it within its backoff", async () => {
    const before = row();
    assert.equal(before.tier, "container");
    assert.equal((await fetch(before.status_url)).status, 200);
    const info = await docker.getContainer(before.container_id as string).inspect();
    assert.equal(info.HostConfig?.RestartPolicy?.Name ?? "no", "no", "Docker must not restart it: the fleet does");
    process.kill(info.State.Pid, "SIGKILL");
    const back = await eventually(
      () => {
        const p = row();
        return p.status === "running" && p.restart_count === before.restart_count + 1 ? p : undefined;
      },
      20_000,
      "the container profile running again",
    );
    assert.equal((await fetch(back.status_url)).status, 200);
  });

  test("kill -9 of the daemon: the container keeps serving; after up it is re-adopted, not duplicated", async () => {
    const before = row();
    await h.killDaemon("SIGKILL");
    assert.equal(
      (
        await fetch(
          before.status_url.replace(
            /^http:\/\/[^/]+\/p\/[^/]+/,
            `http://127.0.0.1:${await hostPort(before.container_id as string)}`,
          ),
        )
      ).status,
      200,
    );
    assert.equal(h.cli(["up", "--fleet-only"]).code, 0);
    const after = row();
    assert.equal(after.container_id, before.container_id);
    const ours = await docker.listContainers({ all: true, filters: { label: [`io.twilight.profile=${name}`] } });
    assert.equal(ours.length, 1, ours.map((c) => c.Names.join(",")).join(" "));
    assert.equal((await fetch(after.status_url)).status, 200);
    assert.equal(h.cli(["down"]).code, 0);
    await h.startDaemon();
  });

  async function hostPort(id: string): Promise<string> {
    const info = await docker.getContainer(id).inspect();
    const binding = Object.values(info.NetworkSettings.Ports ?? {})[0]?.[0];
    return binding?.HostPort ?? "0";
  }
});
