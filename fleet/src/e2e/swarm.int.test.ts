/**
 * Issue 12, the single-node swarm: `swarm init` through the fleet turns the swarm tier on in the running daemon; a
 * profile spawned `--tier swarm` is one hardened service (asserted from `docker service inspect` and from the task's
 * container, no secret in either), healthy through the front door; the fleet (not Swarm) restarts it after its task's
 * container is killed, re-adopts it after the daemon is killed, and a live migration prefab -> swarm -> prefab under
 * load fails no request. Cleanup by the fleet (rm) and by label.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseEnv } from "@twilight/core";
import { dockerClient } from "../docker/client.js";
import { buildImages } from "../images/index.js";
import { ENV_SECRET_PATH, NODE_LABEL } from "../runtime/swarm-spec.js";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";

interface P {
  name: string;
  tier: string;
  status: string;
  container_id: string | null;
  restart_count: number;
  status_url: string;
  api_base: string;
  profile_path: string;
  generation: number;
  node: string | null;
}

type ServiceInspect = {
  ID: string;
  Spec: {
    Labels: Record<string, string>;
    TaskTemplate: {
      ContainerSpec: Record<string, unknown> & {
        Env: string[];
        User: string;
        Secrets: Array<{ File: { Mode: number; UID: string } }>;
      };
      Resources: { Limits: { MemoryBytes: number; NanoCPUs: number; Pids: number } };
      RestartPolicy: { Condition: string };
      Placement: { Constraints: string[] };
    };
    EndpointSpec: { Ports: Array<{ PublishMode: string; PublishedPort: number }> };
  };
};

describe("swarm tier on one node", () => {
  let h: FleetHarness;
  const name = "swarm-sup-1";
  const docker = dockerClient();
  const row = (n = name) => h.cliJson<{ profiles: P[] }>(["list", "--no-stats"]).profiles.find((p) => p.name === n) as P;
  const service = async (p: P) => (await docker.getService(`hermes-${p.name}-g${p.generation}`).inspect()) as ServiceInspect;
  const servicesOf = async (n: string) =>
    docker.listServices({ filters: { label: [`io.twilight.profile=${n}`, "io.twilight.managed-by=twilight-fleet"] } });

  before(async () => {
    await buildImages({ only: ["profile"] });
    h = await fleetHarness({ FLEET_RESTART_BASE_MS: "100", FLEET_HEALTH_INTERVAL_MS: "500", FLEET_PORT_RANGE: "19501-19599" });
    await h.startDaemon();
    const init = h.cli(["swarm", "init", "--json"]);
    assert.equal(init.code, 0, init.stderr);
    const s = JSON.parse(init.stdout) as { state: string; tier: boolean; node: string };
    assert.equal(s.state, "active");
    assert.equal(s.tier, true, "the running daemon took the swarm tier on without a restart");
    const r = h.cli(["spawn", name, "--tier", "swarm"]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await h?.cleanup();
    // whatever a failed test left: only services, secrets of this test's profiles, by our labels
    for (const n of [name, "swarm-mig-1"]) {
      for (const s of await servicesOf(n))
        await docker
          .getService(s.ID)
          .remove()
          .catch(() => undefined);
      const secrets = await docker.listSecrets({ filters: { label: [`io.twilight.profile=${n}`] } });
      for (const s of secrets)
        await docker
          .getSecret(s.ID)
          .remove()
          .catch(() => undefined);
    }
  });

  test("one hardened service: non-root, read-only, no capabilities, no new privileges, limits, placed on its node", async () => {
    const p = row();
    assert.equal(p.tier, "swarm");
    assert.equal(p.status, "running");
    const svc = await service(p);
    const cs = svc.Spec.TaskTemplate.ContainerSpec;
    assert.match(cs.User, /^[1-9]\d*:[1-9]\d*$/, "never root");
    assert.equal(cs.ReadOnly, true);
    assert.deepEqual(cs.CapabilityDrop, ["ALL"]);
    assert.equal(svc.Spec.TaskTemplate.RestartPolicy.Condition, "none", "Swarm must not restart it: the fleet does");
    assert.ok(svc.Spec.TaskTemplate.Resources.Limits.MemoryBytes > 0);
    assert.ok(svc.Spec.TaskTemplate.Resources.Limits.Pids > 0);
    assert.ok(svc.Spec.TaskTemplate.Resources.Limits.NanoCPUs > 0);
    assert.match(svc.Spec.TaskTemplate.Placement.Constraints[0] ?? "", new RegExp(`^node\\.labels\\.${NODE_LABEL}==`));
    assert.deepEqual(
      svc.Spec.EndpointSpec.Ports.map((x) => x.PublishMode),
      ["host"],
    );
    assert.equal(cs.Secrets[0]?.File.Mode, 0o400);
    assert.equal(cs.Secrets[0]?.File.UID, cs.User.split(":")[0]);
    for (const k of ["managed-by", "profile", "tier", "generation"]) assert.ok(svc.Spec.Labels[`io.twilight.${k}`], k);

    const c = await docker.getContainer(p.container_id as string).inspect();
    assert.equal(c.HostConfig.ReadonlyRootfs, true);
    assert.deepEqual(c.HostConfig.CapDrop, ["ALL"]);
    assert.equal(c.HostConfig.Privileged, false);
    const status = readFileSync(`/proc/${c.State.Pid}/status`, "utf8");
    assert.match(
      status,
      /^NoNewPrivs:\s+1$/m,
      "no-new-privileges (dockerd --no-new-privileges on engines without the service field)",
    );
    assert.match(status, /^CapEff:\s+0+$/m, "no effective capabilities");
    assert.match(
      readFileSync(`/proc/${c.State.Pid}/mounts`, "utf8"),
      new RegExp(`^tmpfs ${ENV_SECRET_PATH.replace(/\//g, "\\/")} tmpfs ro`, "m"),
    );
  });

  test("no secret in any spec: not in the service, not in the task's container, not in the CLI's output", async () => {
    const p = row();
    const env = parseEnv(readFileSync(join(p.profile_path, ".env"), "utf8"));
    const secrets = ["API_SERVER_KEY", "MCP_TUSHARE_TOKEN", "SILICONFLOW_API_KEY"]
      .map((k) => env[k])
      .filter((v): v is string => Boolean(v));
    assert.ok(secrets.length >= 2, "the profile has secrets to look for");
    const svc = JSON.stringify(await service(p));
    const ctr = JSON.stringify(await docker.getContainer(p.container_id as string).inspect());
    const tasks = JSON.stringify(await docker.listTasks({ filters: { service: [`hermes-${p.name}-g${p.generation}`] } }));
    for (const s of secrets) {
      assert.ok(!svc.includes(s), "a secret is in the service spec");
      assert.ok(!ctr.includes(s), "a secret is in the container's spec");
      assert.ok(!tasks.includes(s), "a secret is in a task");
      for (const o of h.outputs) assert.ok(!o.text.includes(s), `a secret in the output of hermes-admin ${o.args.join(" ")}`);
    }
    // the agent has them (through the Docker secret): an authenticated request works, a wrong key does not
    const ok = await fetch(`${p.api_base}/models`, { headers: { authorization: `Bearer ${env.API_SERVER_KEY}` } });
    assert.equal(ok.status, 200);
    const bad = await fetch(`${p.api_base}/models`, { headers: { authorization: "Bearer wrong-key-0000" } });
    assert.equal(bad.status, 401);
  });

  test("`move` to the node it is on is a no-op that says so", async () => {
    const self = (JSON.parse(h.cli(["swarm", "status", "--json"]).stdout) as { node: string }).node;
    const r = h.cli(["move", name, "--to-node", self, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { outcome: string }).outcome, "noop");
    assert.equal(row().node, self);
  });

  test("health through the front door; `nodes` shows the profile on this node", async () => {
    const p = row();
    assert.equal((await fetch(p.status_url)).status, 200);
    const n = h.cliJson<{ nodes: Array<{ self: boolean; name: string; profiles: string[]; free_bytes: number | null }> }>([
      "nodes",
    ]);
    const self = n.nodes.find((x) => x.self);
    assert.ok(self?.name, "this node is labelled");
    assert.ok(self.profiles.includes(name), JSON.stringify(n.nodes));
    assert.ok((self.free_bytes ?? 0) > 0);
  });

  test("killing the task's container: the fleet restarts it (a new task), one service, healthy again", async () => {
    const before = row();
    const info = await docker.getContainer(before.container_id as string).inspect();
    process.kill(info.State.Pid, "SIGKILL");
    const back = await eventually(
      () => {
        const p = row();
        return p.status === "running" && p.restart_count === before.restart_count + 1 && p.container_id !== before.container_id
          ? p
          : undefined;
      },
      30_000,
      "the swarm profile running again in a new task",
    );
    assert.equal((await fetch(back.status_url)).status, 200);
    assert.equal((await servicesOf(name)).length, 1);
  });

  test("kill -9 of the daemon: the task keeps running; after up it is re-adopted, not duplicated", async () => {
    const before = row();
    await h.killDaemon("SIGKILL");
    const port = (await service(before)).Spec.EndpointSpec.Ports[0]?.PublishedPort;
    assert.equal((await fetch(`http://127.0.0.1:${port}/health`)).status, 200, "serving without the fleet");
    assert.equal(h.cli(["up", "--fleet-only"]).code, 0);
    const after = row();
    assert.equal(after.container_id, before.container_id);
    assert.equal(after.restart_count, before.restart_count);
    assert.equal((await servicesOf(name)).length, 1);
    const running = (await docker.listTasks({
      filters: { service: [`hermes-${name}-g${after.generation}`], "desired-state": ["running"] },
    })) as unknown[];
    assert.equal(running.length, 1);
    assert.equal((await fetch(after.status_url)).status, 200);
    assert.equal(h.cli(["down"]).code, 0);
    await h.startDaemon();
  });

  test("live migration prefab -> swarm -> prefab under load: 0 failed requests; old generations removed", async () => {
    const m = "swarm-mig-1";
    assert.equal(h.cli(["spawn", m, "--tier", "prefab"]).code, 0);
    const url = row(m).status_url;
    let ok = 0;
    const failed: string[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const r = await fetch(url).catch((e: Error) => ({ status: 0, statusText: e.message }));
        if (r.status === 200) ok++;
        else failed.push(`${r.status} ${r.statusText}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    for (const to of ["swarm", "prefab"]) {
      const r = await h.cliAsync(["migrate", m, "--to", to]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(row(m).tier, to);
    }
    stop = true;
    await load;
    assert.deepEqual(failed, [], `${failed.length} failed of ${ok + failed.length}`);
    assert.ok(ok > 20, `only ${ok} requests`);
    assert.equal((await servicesOf(m)).length, 0, "the swarm generation was removed after migrating back");
  });

  test("rotate-key --api: a new Docker secret, the new key answers, the old is refused, the old secret is removed", async () => {
    const p = row();
    const envOf = () => parseEnv(readFileSync(join(p.profile_path, ".env"), "utf8"));
    const secretNames = async () =>
      (await docker.listSecrets({ filters: { label: [`io.twilight.profile=${name}`] } })).map((s) => s.Spec?.Name ?? "");
    const oldKey = envOf().API_SERVER_KEY as string;
    const before = await secretNames();
    const r = h.cliJson<{ rotated: string[]; restarted: boolean }>(["rotate-key", name, "--api"]);
    assert.deepEqual(r.rotated, ["API_SERVER_KEY"]);
    assert.equal(r.restarted, true);
    const newKey = envOf().API_SERVER_KEY as string;
    assert.notEqual(newKey, oldKey);
    const cur = row();
    const models = (key: string) => fetch(`${cur.api_base}/models`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal((await models(newKey)).status, 200);
    assert.equal((await models(oldKey)).status, 401);
    const used = (await service(cur)).Spec.TaskTemplate.ContainerSpec.Secrets as unknown as Array<{ SecretName: string }>;
    assert.equal(used.length, 1);
    assert.ok(!before.includes(used[0]?.SecretName ?? ""), "the rotated .env is a new secret");
    await eventually(
      async () => {
        const now = await secretNames();
        return now.length === 1 && now[0] === used[0]?.SecretName ? now : undefined;
      },
      10_000,
      "only the current secret left",
    );
  });

  test("rm removes the service and its secrets (by label)", async () => {
    assert.equal(h.cli(["rm", name, "--force"]).code, 0);
    assert.equal((await servicesOf(name)).length, 0);
    await eventually(
      async () => (await docker.listSecrets({ filters: { label: [`io.twilight.profile=${name}`] } })).length === 0 || undefined,
      10_000,
      "secrets removed",
    );
  });
});
