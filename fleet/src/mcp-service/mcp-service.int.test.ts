/**
 * The data service container against the real engine, under a test name and a free port (so it never collides with an
 * operator's `twilight-mcp-tushare`), plus a profile container that reaches it by Docker network DNS.
 * Skips (with the reason) when the data service has not been built yet.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { dockerClient } from "../docker/client.js";
import { buildImages, REPO_ROOT } from "../images/builder.js";
import { pinKeys, readPublishedKeys } from "../profiles/pinned-keys.js";
import { DockerDriver } from "../runtime/docker.js";
import { cleanupContainers } from "../runtime/docker-cleanup.js";
import { freePort, makeProfileDir, testUid, waitHealthy } from "../runtime/docker-testkit.js";
import type { WorkloadSpec } from "../runtime/types.js";
import { McpService } from "./index.js";

const MAIN = join(REPO_ROOT, "mcp", "tushare", "dist", "main.js");
const skip = existsSync(MAIN) ? false : `the data service is not built yet (${MAIN} is missing): run npx tsc -b mcp/tushare`;
const docker = dockerClient();
const suffix = Math.random().toString(36).slice(2, 8);
const SVC = `twilight-mcp-tushare-it-${suffix}`;
const PROFILE = `itest-dns-${suffix}`;
let root = "";
let svc: McpService;
let images: Record<string, string> = {};

before(async () => {
  if (skip) return;
  const report = await buildImages({ only: ["profile", "mcp"], onProgress: (s) => process.stderr.write(`# ${s}\n`) });
  images = Object.fromEntries(report.images.map((i) => [i.kind, i.ref]));
  root = await mkdtemp(join(tmpdir(), "twl-mcp-"));
  svc = new McpService({
    name: SVC,
    hostPort: await freePort(),
    dataDir: join(root, "data"),
    socketDir: join(root, "run"),
    image: images.mcp,
    env: { MCP_SCHEDULER: "off", LOG_LEVEL: "warn" },
  });
});

after(async () => {
  if (skip) return;
  await svc.down().catch(() => {});
  await cleanupContainers(docker, { profile: PROFILE });
  if (root) await rm(root, { recursive: true, force: true });
});

test("up: the data service answers /health on 127.0.0.1 only; up again leaves it alone", { skip }, async () => {
  const t0 = performance.now();
  const s = await svc.up({ waitMs: 60_000 });
  process.stderr.write(`# data service up in ${Math.round(performance.now() - t0)} ms\n`);
  assert.equal(s.running, true);
  assert.equal(s.health?.httpStatus, 200);
  const again = await svc.up();
  assert.equal(again.containerId, s.containerId);
  const info = await docker.getContainer(SVC).inspect();
  assert.deepEqual(
    (info.NetworkSettings.Ports["9100/tcp"] ?? []).map((p) => p.HostIp),
    ["127.0.0.1"],
  );
  assert.equal(info.HostConfig.ReadonlyRootfs, true);
  assert.deepEqual(info.HostConfig.CapDrop, ["ALL"]);
  assert.equal(info.HostConfig.RestartPolicy?.Name, "unless-stopped");
  // issue 9 item 10: the service runs as its own uid, not root, and owns its data and its socket
  assert.equal(info.Config.User, "9100:9100");
  const top = (await docker.getContainer(SVC).top({ ps_args: "-o pid,uid,comm" })) as {
    Titles: string[];
    Processes: string[][];
  };
  // Docker's top needs a PID column in the ps output; find the UID column by its title.
  const uidCol = top.Titles.indexOf("UID");
  assert.ok(uidCol >= 0, JSON.stringify(top.Titles));
  assert.ok(top.Processes.length > 0 && top.Processes.every((p) => p[uidCol] !== "0"), JSON.stringify(top.Processes));
  assert.equal((await stat(join(root, "data"))).uid, 9100);
  const sock = await stat(join(root, "run", "mcp.sock"));
  assert.ok(sock.isSocket() && sock.uid === 9100);
  assert.equal((await stat(join(root, "run"))).mode & 0o777, 0o755);
  const keys = (await (await fetch(`${svc.url}/.well-known/cite-keys`)).json()) as { keys: unknown[] };
  assert.ok(keys.keys.length >= 1);
  // The service created its key and admin token in the bind-mounted data dir, 0600.
  for (const f of ["cite-signing-key.pem", "admin-token"]) assert.equal((await stat(join(root, "data", f))).mode & 0o777, 0o600);
});

test(
  "a container profile reaches the data service over its read-only socket mount (default bridge), and by name on twilight",
  { skip },
  async () => {
    const skillsDir = join(root, "skills");
    await mkdir(skillsDir, { recursive: true });
    const uid = testUid();
    const port = await freePort();
    const p = await makeProfileDir({
      root: join(root, "profiles"),
      skillsDir,
      name: PROFILE,
      uid,
      gid: uid,
      port,
      mcpUrl: `http://${SVC}:9100/mcp`,
    });
    const spec: WorkloadSpec = {
      profile: PROFILE,
      tier: "container",
      generation: 1,
      dir: p.dir,
      uid,
      gid: uid,
      port,
      image: images.profile,
      skillsDir,
      logDir: root,
    };
    // the daemon's default: the engine's bridge (no name resolution there) and the data service's socket directory
    const viaSocket = `require("http").get({socketPath:"/run/twilight/mcp.sock",path:"/health"},r=>{let b="";r.on("data",d=>b+=d);r.on("end",()=>console.log(r.statusCode,JSON.parse(b).service))}).on("error",e=>{console.log("ERR",e.code);process.exit(1)})`;
    const byName = `fetch('http://${SVC}:9100/health').then(async r=>console.log(r.status,(await r.json()).service),e=>{console.log('ERR',e.cause?.code??e.message);process.exit(1)})`;
    for (const [driver, js, gen, what] of [
      [new DockerDriver({ dataSocketDir: join(root, "run") }), viaSocket, 1, "socket"],
      [new DockerDriver({ network: "twilight" }), byName, 2, "name on twilight"],
    ] as const) {
      const s = { ...spec, generation: gen };
      try {
        await driver.start(s);
        await waitHealthy(port);
        const chunks: Buffer[] = [];
        const code = await driver.exec(s, ["node", "-e", js], {
          onStdout: (b) => chunks.push(b),
          onStderr: (b) => chunks.push(b),
        });
        const out = Buffer.concat(chunks).toString();
        assert.equal(code, 0, `${what}: ${out}`);
        assert.equal(out.trim(), "200 mcp-tushare", what);
      } finally {
        driver.close();
        await cleanupContainers(docker, { profile: PROFILE });
      }
    }
  },
);

test("down stops and removes the container and keeps the data; down again is a no-op", { skip }, async () => {
  assert.equal(await svc.down(), true);
  const s = await svc.status();
  assert.equal(s.exists, false);
  assert.ok(existsSync(join(root, "data", "admin-token")));
  assert.equal(await svc.down(), false);
});

test(
  "issue 9 item 9: rotate-key in the running service; the new key set is pinned into a profile, the old key kept for its grace",
  { skip },
  async () => {
    await svc.up({ waitMs: 60_000 }); // the test before this one took the service down
    const before = (await (await fetch(`${svc.url}/.well-known/cite-keys`)).json()) as { keys: Array<{ key_id: string }> };
    const r = await svc.rotateKey({ graceSeconds: 60, activateInSeconds: 0 });
    assert.ok(r.new_key_id && !before.keys.some((k) => k.key_id === r.new_key_id));
    assert.ok(r.retiring_key_id && before.keys.some((k) => k.key_id === r.retiring_key_id));
    const published = await readPublishedKeys(join(root, "data"), 9100);
    const ids = (JSON.parse(published) as { keys: Array<{ key_id: string }> }).keys.map((k) => k.key_id);
    assert.ok(ids.includes(r.new_key_id) && ids.includes(r.retiring_key_id as string));
    // pin into a layout-2 profile directory: root-owned file the tenant can read through its group, not change
    const dir = join(root, "profile");
    await mkdir(dir, { mode: 0o750 });
    assert.equal(await pinKeys(dir, 40123, published), true);
    const st = await stat(join(dir, "keys", "cite-keys.json"));
    assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, 40123, 0o640]);
  },
);
