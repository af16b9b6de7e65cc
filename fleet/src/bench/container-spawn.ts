/**
 * Benchmark: container spawn-to-healthy through the docker driver (hardened spec, its network - the engine's default
 * bridge unless FLEET_CONTAINER_NETWORK says otherwise - the data service's socket mount, labels, watcher) beside a
 * bare `docker run` equivalent (create + start through the Engine API with a minimal spec: same image, same profile
 * directory, user and port, nothing else), each measured from the call to the first 200 on /health through the
 * published port. Prints the medians and their ratio, for the container tier's plan (dedicated_pro: 1 CPU) and for the
 * default plan (0.5 CPU: the CPU quota throttles Node's start-up, which is most of the difference there).
 *   node fleet/dist/bench/container-spawn.js [--runs 5] [--json]
 * Everything it creates carries our labels and is removed by label at the end.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LABELS, MANAGED_BY } from "@twilight/core";
import type Docker from "dockerode";
import { dockerClient } from "../docker/client.js";
import { buildImages } from "../images/builder.js";
import { CONTAINER_PORT, containerEnv, limitsForPlan, PROFILE_MOUNT } from "../runtime/container-spec.js";
import { DockerDriver } from "../runtime/docker.js";
import { cleanupContainers, removeLabelled } from "../runtime/docker-cleanup.js";
import { freePort, makeProfileDir, testUid, waitHealthy } from "../runtime/docker-testkit.js";
import type { WorkloadSpec } from "../runtime/types.js";

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

interface Fixture {
  docker: Docker;
  name: string;
  image: string;
  dir: string;
  uid: number;
  port: number;
  skillsDir: string;
  root: string;
  labels: Record<string, string>;
}

let generation = 0;
async function viaDriver(f: Fixture, d: DockerDriver): Promise<number> {
  generation++;
  const spec: WorkloadSpec = {
    profile: f.name,
    tier: "container",
    generation,
    dir: f.dir,
    uid: f.uid,
    gid: f.uid,
    port: f.port,
    image: f.image,
    skillsDir: f.skillsDir,
    logDir: f.root,
  };
  const t0 = performance.now();
  await d.start(spec);
  await waitHealthy(f.port);
  const ms = performance.now() - t0;
  await d.remove(spec);
  return ms;
}

async function bare(f: Fixture, i: number): Promise<number> {
  const t0 = performance.now();
  const c = await f.docker.createContainer({
    name: `${f.name}-bare-${i}`,
    Image: f.image,
    User: `${f.uid}:${f.uid}`,
    Env: containerEnv(),
    Labels: { [LABELS.managedBy]: MANAGED_BY, ...f.labels },
    ExposedPorts: { [`${CONTAINER_PORT}/tcp`]: {} },
    HostConfig: {
      Mounts: [{ Type: "bind", Source: f.dir, Target: PROFILE_MOUNT }],
      PortBindings: { [`${CONTAINER_PORT}/tcp`]: [{ HostIp: "127.0.0.1", HostPort: String(f.port) }] },
    },
  });
  await c.start();
  await waitHealthy(f.port);
  const ms = performance.now() - t0;
  await c.remove({ force: true });
  return ms;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: "string", default: "5" }, json: { type: "boolean", default: false } },
  });
  const runs = Math.max(1, Math.min(50, Number(values.runs)));
  const say = (s: string) => (values.json ? undefined : process.stderr.write(`${s}\n`));
  const docker = dockerClient();
  const report = await buildImages({ only: ["profile"], onProgress: say });
  const runId = Math.random().toString(36).slice(2, 8);
  const root = await mkdtemp(join(tmpdir(), "twl-bench-"));
  const skillsDir = join(root, "skills");
  await mkdir(skillsDir);
  const uid = testUid();
  const port = await freePort();
  const name = `bench-spawn-${runId}`;
  const prof = await makeProfileDir({ root: join(root, "profiles"), skillsDir, name, uid, gid: uid, port });
  const f: Fixture = {
    docker,
    name,
    image: report.images.find((i) => i.kind === "profile")?.ref as string,
    dir: prof.dir,
    uid,
    port,
    skillsDir,
    root,
    labels: { [LABELS.role]: "bench", "io.twilight.bench": runId },
  };
  // as the daemon runs it: the default network (the engine's bridge) and the data service's socket directory mounted
  const dataSocketDir = join(root, "mcp-run");
  await mkdir(dataSocketDir);
  const pro = new DockerDriver({ limitsFor: () => limitsForPlan("dedicated_pro"), dataSocketDir });
  const def = new DockerDriver({ limitsFor: () => limitsForPlan(null), dataSocketDir });
  const series = { pro: [] as number[], def: [] as number[], bare: [] as number[] };
  try {
    for (let i = 1; i <= runs; i++) {
      series.pro.push(await viaDriver(f, pro));
      series.def.push(await viaDriver(f, def));
      series.bare.push(await bare(f, i));
      say(
        `run ${i}: driver ${Math.round(series.pro[i - 1] as number)} ms (default plan ${Math.round(series.def[i - 1] as number)} ms), bare ${Math.round(series.bare[i - 1] as number)} ms`,
      );
    }
  } finally {
    pro.close();
    def.close();
    await cleanupContainers(docker, { profile: name });
    await removeLabelled(docker, f.labels);
    await rm(root, { recursive: true, force: true });
  }
  const [p, d, b] = [median(series.pro), median(series.def), median(series.bare)];
  const result = {
    runs,
    image: f.image,
    driver_median_ms: Math.round(p),
    driver_default_plan_median_ms: Math.round(d),
    bare_median_ms: Math.round(b),
    ratio: Math.round((p / b) * 100) / 100,
    ratio_default_plan: Math.round((d / b) * 100) / 100,
    driver_ms: series.pro.map(Math.round),
    driver_default_plan_ms: series.def.map(Math.round),
    bare_ms: series.bare.map(Math.round),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      [
        `container spawn-to-healthy, median of ${runs}:`,
        `  docker driver, dedicated_pro (1 CPU)   ${result.driver_median_ms} ms`,
        `  docker driver, default plan (0.5 CPU)  ${result.driver_default_plan_median_ms} ms`,
        `  bare docker run (no limits)            ${result.bare_median_ms} ms`,
        `  ratio driver/bare: ${result.ratio} (default plan ${result.ratio_default_plan})`,
        "",
      ].join("\n"),
    );
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
