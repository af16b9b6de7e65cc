/**
 * The docker driver against the real engine: a hardened profile container from the image we build with no registry.
 * Everything created here carries our labels and the test profile's name, and is removed by label at the end; the one
 * unlabelled container (proof that cleanup never touches it) is removed by the id we got when creating it.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { LABELS, MANAGED_BY } from "@twilight/core";
import { dockerClient } from "../docker/client.js";
import { buildImages, imageRefs } from "../images/builder.js";
import { connectDockerDriver, DockerDriver } from "./docker.js";
import { cleanupContainers, orphanReport } from "./docker-cleanup.js";
import { freePort, makeProfileDir, type TestProfile, testUid, waitHealthy } from "./docker-testkit.js";
import type { WorkloadSpec } from "./types.js";

const docker = dockerClient();
const suffix = Math.random().toString(36).slice(2, 8);
const NAME = `itest-ctr-${suffix}`;
const OTHER = `itest-other-${suffix}`;
let root = "";
let skillsDir = "";
let prof: TestProfile;
let other: TestProfile;
let spec: WorkloadSpec;
let driver: DockerDriver;
let unlabelledId = "";

async function exec(d: DockerDriver, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const code = await d.exec(spec, argv, { onStdout: (b) => out.push(b), onStderr: (b) => err.push(b) });
  return { code, out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() };
}

before(async () => {
  const t0 = performance.now();
  const report = await buildImages({ only: ["profile"], onProgress: (s) => process.stderr.write(`# ${s}\n`) });
  process.stderr.write(`# images ready in ${((performance.now() - t0) / 1000).toFixed(2)}s\n`);
  const image = report.images.find((i) => i.kind === "profile")?.ref as string;
  root = await mkdtemp(join(tmpdir(), "twl-docker-"));
  skillsDir = join(root, "skills");
  await mkdir(join(skillsDir, "stock-research"), { recursive: true });
  await writeFile(join(skillsDir, "stock-research", "SKILL.md"), "# stock research\n");
  const uid = testUid();
  prof = await makeProfileDir({ root: join(root, "profiles"), skillsDir, name: NAME, uid, gid: uid, port: await freePort() });
  other = await makeProfileDir({
    root: join(root, "profiles"),
    skillsDir,
    name: OTHER,
    uid: uid + 1,
    gid: uid + 1,
    port: await freePort(),
  });
  spec = {
    profile: NAME,
    tier: "container",
    generation: 1,
    dir: prof.dir,
    uid,
    gid: uid,
    port: prof.port,
    image,
    skillsDir,
    logDir: join(root, "logs"),
  };
  driver = await connectDockerDriver();
});

after(async () => {
  driver?.close();
  await cleanupContainers(docker, { profile: NAME });
  if (unlabelledId)
    await docker
      .getContainer(unlabelledId)
      .remove({ force: true })
      .catch(() => {});
  if (root) await rm(root, { recursive: true, force: true });
});

test("start: the container answers /health through 127.0.0.1:<port>; start again is idempotent", async () => {
  const t0 = performance.now();
  const h = await driver.start(spec);
  const { body } = await waitHealthy(spec.port);
  process.stderr.write(`# spawn-to-healthy ${Math.round(performance.now() - t0)} ms\n`);
  assert.equal((body as { status: string }).status, "ok");
  assert.equal((body as { profile: string }).profile, NAME);
  const again = await driver.start(spec);
  assert.equal(again.containerId, h.containerId);
  const st = await driver.inspect(spec, h);
  assert.equal(st.running, true);
  const info = await docker.getContainer(h.containerId as string).inspect();
  const ports = info.NetworkSettings.Ports["8642/tcp"] ?? [];
  assert.deepEqual(
    ports.map((p) => p.HostIp),
    ["127.0.0.1"],
  );
});

test("exec runs as the profile's uid in /profile, with exit codes and separate stdout/stderr", async () => {
  const id = await exec(driver, ["id"]);
  assert.equal(id.code, 0);
  assert.match(id.out, new RegExp(`^uid=${spec.uid} gid=${spec.gid}`));
  assert.doesNotMatch(id.out, /uid=0\b/);
  const r = await exec(driver, ["sh", "-c", "pwd; echo to-err >&2; exit 3"]);
  assert.equal(r.code, 3);
  assert.equal(r.out, "/profile\n");
  assert.equal(r.err, "to-err\n");
  // The skill's command is on PATH and finds its compiled CLI in /app (exit 2 = usage).
  const skill = await exec(driver, ["fetch_price", "--help"]);
  assert.equal(skill.code, 2, skill.out + skill.err);
  assert.match(skill.out + skill.err, /usage: fetch_price/);
});

test("inside: read-only root, no capabilities, no docker socket, no other profile, skills read-only via the symlink", async () => {
  const touch = await exec(driver, ["touch", "/x"]);
  assert.notEqual(touch.code, 0);
  assert.match(touch.err, /Read-only file system/);
  const status = await exec(driver, ["cat", "/proc/1/status"]);
  assert.match(status.out, /^CapEff:\s+0000000000000000$/m);
  assert.match(status.out, /^CapPrm:\s+0000000000000000$/m);
  assert.match(status.out, /^NoNewPrivs:\s+1$/m);
  for (const sock of ["/var/run/docker.sock", "/run/docker.sock"]) assert.notEqual((await exec(driver, ["ls", sock])).code, 0);
  const mounts = await exec(driver, ["cat", "/proc/self/mountinfo"]);
  assert.doesNotMatch(mounts.out, new RegExp(OTHER));
  assert.doesNotMatch(mounts.out, /docker\.sock/);
  assert.notEqual((await exec(driver, ["ls", other.dir])).code, 0);
  assert.equal((await exec(driver, ["cat", "/profile/skills/stock-research/SKILL.md"])).out, "# stock research\n");
  assert.equal((await exec(driver, ["cat", "/skills/stock-research/SKILL.md"])).code, 0);
  assert.notEqual((await exec(driver, ["touch", "/skills/new"])).code, 0);
  assert.equal((await exec(driver, ["touch", "/profile/home/written", "/tmp/scratch"])).code, 0);
});

test("docker inspect shows no secret value from .env", async () => {
  const info = await docker.getContainer(`hermes-${NAME}-g1`).inspect();
  const json = JSON.stringify(info);
  for (const [k, v] of Object.entries(prof.secrets)) assert.ok(!json.includes(v), `${k} leaked into the container config`);
  assert.ok(!(info.Config.Env ?? []).some((e) => /KEY|TOKEN|SECRET/.test(e.split("=")[0] ?? "")));
  const envFile = await readFile(join(prof.dir, ".env"), "utf8");
  assert.ok(envFile.includes(prof.secrets.API_SERVER_KEY as string), "the secret is in the profile's .env (read by the agent)");
});

test("logs: tail and follow are demultiplexed into lines; stats report memory", async () => {
  const lines: string[] = [];
  for await (const l of driver.logs(spec, { follow: false, tail: 50 })) lines.push(`${l.stream}:${l.line}`);
  assert.ok(
    lines.some((l) => l.includes("profile API listening")),
    lines.join("\n"),
  );
  const ac = new AbortController();
  const seen: string[] = [];
  const timer = setTimeout(() => ac.abort(), 10_000);
  for await (const l of driver.logs(spec, { follow: true, tail: 5, signal: ac.signal })) {
    seen.push(l.line);
    if (seen.length >= 1) ac.abort();
  }
  clearTimeout(timer);
  assert.ok(seen.length >= 1);
  const stats = await driver.stats(spec);
  assert.ok(stats && stats.memoryBytes > 1_000_000, JSON.stringify(stats));
  assert.ok(stats.cpuPercent >= 0);
  const managed = await driver.listManaged();
  assert.ok(managed.some((m) => m.profile === NAME && m.generation === 1 && m.running && m.tier === "container"));
});

test("re-adoption by label from a fresh driver; kill of the main process fires onExit; start brings it back", async () => {
  const fresh = new DockerDriver();
  try {
    const info = await docker.getContainer(`hermes-${NAME}-g1`).inspect();
    assert.equal(await fresh.adopt({ ...spec, generation: 2 }, { containerId: info.Id }), false);
    assert.equal(await fresh.adopt(spec, { containerId: info.Id }), true);
    const exits: Array<{ code: number | null; signal: string | null }> = [];
    const got = new Promise<void>((resolve) =>
      fresh.onExit((e) => {
        if (e.profile !== NAME) return;
        exits.push(e);
        resolve();
      }),
    );
    // PID 1 is the init; the agent is its child. Kill the agent from the host, by pid.
    const children = await readFile(`/proc/${info.State.Pid}/task/${info.State.Pid}/children`, "utf8");
    const agentPid = Number(children.trim().split(/\s+/)[0]);
    assert.ok(agentPid > 0);
    process.kill(agentPid, "SIGKILL");
    await Promise.race([got, new Promise((_, rej) => setTimeout(() => rej(new Error("no exit event in 15 s")), 15_000))]);
    assert.equal(exits[0]?.code, 137);
    assert.equal(exits[0]?.signal, "SIGKILL");
    const st = await fresh.inspect(spec);
    assert.equal(st.running, false);
    assert.match(st.reason ?? "", /exited with code 137/);
    await fresh.start(spec);
    await waitHealthy(spec.port);
  } finally {
    fresh.close();
  }
});

test("another fleet's profile of the same name (another directory) is not ours: not adopted, started, stopped or removed", async () => {
  // two fleets on one host (the operator's and a test's, say) with a profile of the same name share the container name
  const h = await driver.start(spec);
  await waitHealthy(spec.port);
  const theirs: WorkloadSpec = { ...spec, dir: other.dir };
  const fresh = new DockerDriver();
  try {
    assert.equal(await fresh.adopt(theirs, { containerId: h.containerId as string }), false, "adopted another fleet's container");
    assert.equal((await fresh.inspect(theirs)).running, false);
    await assert.rejects(fresh.start(theirs), /a container named hermes-.* exists and is not this profile's/);
    await fresh.stop(theirs, { timeoutMs: 1_000 });
    await fresh.remove(theirs);
    const info = await docker.getContainer(h.containerId as string).inspect();
    assert.equal(info.State.Running, true, "the other fleet's container was stopped or removed");
  } finally {
    fresh.close();
  }
});

test("orphan report and label-scoped cleanup never touch an unlabelled container", async () => {
  const base = imageRefs("unused").base;
  const c = await docker.createContainer({
    name: `hermes-unlabelled-${suffix}-g1`,
    Image: base,
    Entrypoint: ["node", "-e", "setInterval(() => {}, 1 << 30)"],
    HostConfig: { NetworkMode: "none" },
  });
  unlabelledId = c.id;
  await c.start();
  const orphans = await orphanReport(docker, new Set([OTHER]));
  assert.ok(orphans.some((o) => o.profile === NAME));
  assert.ok(!orphans.some((o) => o.id === unlabelledId || o.name.includes("unlabelled")));
  // Known by workload name: not an orphan.
  assert.ok(!(await orphanReport(docker, new Set([`hermes-${NAME}-g1`]))).some((o) => o.profile === NAME));
  const removed = await cleanupContainers(docker, { profile: NAME });
  assert.deepEqual(
    removed.map((r) => r.name),
    [`hermes-${NAME}-g1`],
  );
  const still = await docker.getContainer(unlabelledId).inspect();
  assert.equal(still.State.Running, true);
  // It even inherits managed-by from our image's labels; without the role and profile labels it is still not ours.
  assert.equal(still.Config.Labels?.[LABELS.managedBy], MANAGED_BY);
  assert.equal(still.Config.Labels?.[LABELS.role], undefined);
  assert.equal(still.Config.Labels?.[LABELS.profile], undefined);
  assert.deepEqual(await cleanupContainers(docker, { profile: NAME }), []);
  assert.equal((await docker.getContainer(unlabelledId).inspect()).State.Running, true);
});

test("stop is graceful (exit 0) and idempotent; remove leaves nothing", async () => {
  await driver.start(spec);
  await waitHealthy(spec.port);
  await driver.stop(spec, { timeoutMs: 10_000 });
  const st = await driver.inspect(spec);
  assert.equal(st.running, false);
  assert.equal(st.exitCode, 0);
  await driver.stop(spec);
  await driver.remove(spec);
  assert.deepEqual(await driver.inspect(spec), { running: false, reason: "missing" });
  await driver.remove(spec);
});

test("standby start serves status standby; a later plain start re-creates the stopped container without it", async () => {
  const h1 = await driver.start({ ...spec, standby: true });
  const { body } = await waitHealthy(spec.port);
  assert.equal((body as { status: string }).status, "standby");
  await driver.stop(spec, { timeoutMs: 5_000 });
  const h2 = await driver.start(spec);
  assert.notEqual(h2.containerId, h1.containerId);
  const again = await waitHealthy(spec.port);
  assert.equal((again.body as { status: string }).status, "ok");
  await driver.remove(spec);
});

test("create checks image and network only when the engine refuses: a missing image is named, a removed network made again", async () => {
  const net = `twilight-itest-${suffix}`;
  const d = new DockerDriver({ network: net }); // not connectDockerDriver: the network does not exist yet
  const s2 = { ...spec, generation: 7 };
  try {
    await assert.rejects(
      d.start({ ...s2, image: `twilight/no-such-image:${suffix}` }),
      /image twilight\/no-such-image:\S+ is not on this host/,
    );
    await d.start(s2); // the network is missing: made, and the create retried once
    await waitHealthy(spec.port);
    const info = await docker.getNetwork(net).inspect();
    assert.equal(info.Labels?.[LABELS.managedBy], MANAGED_BY);
    await d.remove(s2);
  } finally {
    d.close();
    await cleanupContainers(docker, { profile: NAME });
    await docker
      .getNetwork(net)
      .remove()
      .catch(() => undefined);
  }
});
