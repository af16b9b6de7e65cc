/**
 * Issue 9, the cross-tenant matrix over the plan's five profiles on both tiers: from inside each profile A, every
 * attempt on every other profile B - read B's files, call B's API with A's key and A's API with B's key, signal B's
 * processes, read B's /proc/<pid>/environ, squat B's port while B is down, open a TCP connection to B's container (or
 * another container on the same bridge) - must fail. 0 of N succeed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseEnv } from "@twilight/core";
import { dockerClient } from "../docker/client.js";
import { buildImages } from "../images/index.js";
import { type FleetHarness, fleetHarness } from "../testing/harness.js";

interface Row {
  name: string;
  tier: "prefab" | "container";
  uid: number;
  pid: number | null;
  port: number;
  profile_path: string;
  status: string;
}
const FIVE: Array<[string, "prefab" | "container"]> = [
  ["test-basic-1", "prefab"],
  ["test-basic-2", "prefab"],
  ["test-parallel-1", "prefab"],
  ["test-container-1", "container"],
  ["test-upgrade-1", "container"],
];

describe("cross-tenant matrix: the plan's five profiles, both tiers", () => {
  let h: FleetHarness;
  let rows: Row[] = [];
  const key = (r: Row) => parseEnv(readFileSync(join(r.profile_path, ".env"), "utf8")).API_SERVER_KEY as string;
  const attempts: Array<{ from: string; to: string; what: string; ok: boolean }> = [];
  const sh = (from: Row, script: string) => {
    const r = h.cli(["exec", from.name, "--json", "--", "sh", "-c", script]);
    return JSON.parse(r.stdout) as { exit: number; stdout: string; stderr: string };
  };

  before(async () => {
    await buildImages({ only: ["profile"] });
    // container names are per host: another fleet here running the plan's profiles (npm run verify's) holds them
    const taken = (await dockerClient().listContainers({ all: true }))
      .flatMap((c) => c.Names)
      .filter((n) => FIVE.some(([name]) => n.startsWith(`/hermes-${name}-g`)));
    assert.deepEqual(
      taken,
      [],
      "another fleet on this host runs the plan's profiles (npm run verify's?); remove them first: npm run verify -- --cleanup",
    );
    h = await fleetHarness({ FLEET_PORT_RANGE: "19601-19699", FLEET_HEALTH_INTERVAL_MS: "500" });
    await h.startDaemon();
    for (const [n, tier] of FIVE) {
      const r = h.cli(["spawn", n, "--tier", tier]);
      assert.equal(r.code, 0, `spawn ${n} (${tier}): ${r.stderr}`);
    }
    rows = h.cliJson<{ profiles: Row[] }>(["list", "--no-stats"]).profiles;
  });
  after(async () => {
    process.stderr.write(
      `# cross-tenant matrix: ${attempts.length} attempts, ${attempts.filter((a) => a.ok).length} succeeded\n`,
    );
    await h?.cleanup();
  });

  test("files, keys, signals and environ of another profile: 0 succeed", async () => {
    for (const a of rows)
      for (const b of rows) {
        if (a.name === b.name) continue;
        for (const f of [".env", "data/state.db", "config.yaml", "keys/cite-keys.json", "home"]) {
          const r = sh(a, `cat ${join(b.profile_path, f)} 2>/dev/null || ls ${join(b.profile_path, f)} 2>/dev/null`);
          attempts.push({ from: a.name, to: b.name, what: `read ${f}`, ok: r.exit === 0 });
        }
        if (b.tier === "prefab" && b.pid) {
          const sig = sh(a, `kill -0 ${b.pid}`);
          attempts.push({ from: a.name, to: b.name, what: "signal", ok: sig.exit === 0 });
          const env = sh(a, `cat /proc/${b.pid}/environ`);
          attempts.push({
            from: a.name,
            to: b.name,
            what: "environ",
            ok: env.exit === 0 && env.stdout.includes("API_SERVER_KEY"),
          });
        }
        // B's API with A's key, through the front door and on B's own port
        for (const url of [`${h.url}/p/${b.name}/v1/models`, `http://127.0.0.1:${b.port}/v1/models`]) {
          const res = await fetch(url, { headers: { authorization: `Bearer ${key(a)}` } });
          await res.arrayBuffer();
          attempts.push({ from: a.name, to: b.name, what: `API with own key at ${url}`, ok: res.status === 200 });
        }
      }
    // sanity: each profile's own key works (the matrix would pass trivially otherwise)
    for (const a of rows) {
      const res = await fetch(`${h.url}/p/${a.name}/v1/models`, { headers: { authorization: `Bearer ${key(a)}` } });
      assert.equal(res.status, 200, `${a.name} with its own key`);
    }
    const succeeded = attempts.filter((x) => x.ok);
    assert.deepEqual(succeeded, [], `${succeeded.length} of ${attempts.length} cross-tenant attempts succeeded`);
    assert.ok(attempts.length >= 20 * 7);
  });

  test("the network: a container profile cannot connect to another container profile, nor to a bare container beside it", async () => {
    // container profiles share FLEET_CONTAINER_NETWORK (the default bridge): with inter-container traffic on, A could
    // open B's API port (or anything else on that bridge) directly; dockerd --icc=false closes it (doctor warns if not)
    const docker = dockerClient();
    const addr = async (id: string) => {
      const nets = (await docker.getContainer(id).inspect()).NetworkSettings.Networks;
      return Object.values(nets).find((n) => n.IPAddress)?.IPAddress as string;
    };
    const containerOf = async (r: Row) =>
      (await docker.listContainers({ filters: { label: [`io.twilight.profile=${r.name}`] } }))[0]?.Id as string;
    const probe = (ip: string, port: number) =>
      `const s=require("net").connect(${port},"${ip}");s.on("connect",()=>process.exit(0));s.on("error",()=>process.exit(1));setTimeout(()=>process.exit(2),2000)`;
    const boxes = rows.filter((r) => r.tier === "container");
    assert.equal(boxes.length, 2);
    // a bare container of this host on the same bridge, listening (the operator's own, say)
    const other = await docker.createContainer({
      Image: (await docker.getContainer(await containerOf(boxes[0] as Row)).inspect()).Config.Image,
      Entrypoint: ["node", "-e", 'require("net").createServer(()=>{}).listen(7000);setTimeout(()=>{},60000)'],
      Cmd: [],
      Labels: { "io.twilight.managed-by": "twilight-fleet", "io.twilight.role": "test", "io.twilight.test": "matrix-net" },
      HostConfig: { NetworkMode: "bridge", AutoRemove: true },
    });
    await other.start();
    try {
      const targets = [
        ...(await Promise.all(boxes.map(async (b) => ({ name: b.name, ip: await addr(await containerOf(b)), port: 8642 })))),
        { name: "bare container", ip: await addr(other.id), port: 7000 },
      ];
      await new Promise((r) => setTimeout(r, 300));
      for (const t of targets) {
        // sanity: the target listens there (the host reaches it), so a refusal below is the network's
        const host = spawnSync(process.execPath, ["-e", probe(t.ip, t.port)]);
        assert.equal(host.status, 0, `the host reaches ${t.name} at ${t.ip}:${t.port}`);
        for (const a of boxes.filter((b) => b.name !== t.name)) {
          const r = sh(a, `node -e '${probe(t.ip, t.port)}'`);
          attempts.push({ from: a.name, to: t.name, what: `tcp ${t.ip}:${t.port}`, ok: r.exit === 0 });
          assert.notEqual(r.exit, 0, `${a.name} opened ${t.name} at ${t.ip}:${t.port}`);
        }
      }
    } finally {
      await other.remove({ force: true }).catch(() => undefined);
    }
  });

  test("a squatter on another profile's port while it is down gets no caller, no health, and cannot keep it down", async () => {
    const a = rows.find((r) => r.name === "test-basic-2") as Row;
    for (const b of rows.filter((r) => r.name === "test-basic-1" || r.name === "test-container-1")) {
      assert.equal(h.cli(["stop", b.name]).code, 0);
      // the front door does not proxy a stopped profile at all; start it while A holds its port
      const code = `const s=require("http").createServer((q,r)=>{require("fs").appendFileSync("/tmp/twl-matrix-${process.pid}","x"+q.headers.authorization);r.end('{"status":"ok"}')});s.listen(${b.port},"127.0.0.1");setTimeout(()=>process.exit(0),8000)`;
      const bg = h.cli(["exec", a.name, "--", "sh", "-c", 'setsid -f node -e "$0" >/dev/null 2>&1 </dev/null', code]);
      assert.equal(bg.code, 0, bg.stderr);
      await new Promise((r) => setTimeout(r, 500));
      // the start moves B off the squatted port (a squatter must not be able to keep a profile down either)
      const start = h.cli(["start", b.name, "--json"]);
      assert.equal(start.code, 0, start.stderr);
      const moved = (JSON.parse(start.stdout) as { port: number }).port;
      assert.notEqual(moved, b.port, `${b.name} still on the port another uid holds`);
      const ev = h.cliJson<{ events: Array<{ action: string; detail: { from?: number } }> }>(["events", b.name]).events;
      assert.ok(ev.some((e) => e.action === "port-moved" && e.detail.from === b.port));
      const res = await fetch(`${h.url}/p/${b.name}/v1/models`, { headers: { authorization: "Bearer callers-key" } });
      await res.arrayBuffer();
      let seen = "";
      try {
        seen = readFileSync(`/tmp/twl-matrix-${process.pid}`, "utf8");
      } catch {
        /* nothing reached the squatter */
      }
      attempts.push({ from: a.name, to: b.name, what: "squat port", ok: /callers-key/.test(seen) });
      assert.equal(res.status, 401, "the real profile answered (and refused the wrong key), not the squatter");
      assert.doesNotMatch(seen, /callers-key/);
      await new Promise((r) => setTimeout(r, 8000)); // the squatter exits by itself
    }
  });
});
