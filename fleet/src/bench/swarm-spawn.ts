/**
 * Benchmark: swarm spawn-to-healthy through the swarm driver (secret, hardened service, placement, overlay, labels)
 * beside the container driver's spawn of the same profile and beside a bare `docker service create` of the same image
 * (Engine API, minimal spec: image by id, user, profile mount, host-mode port, nothing else). Each is measured from the
 * call to the first 200 on /health through the published port; medians and ratios printed.
 *   node fleet/dist/bench/swarm-spawn.js [--runs 5] [--json]
 * Needs an active swarm manager (`hermes-admin swarm init`); says so and exits 0 without one. Everything it creates
 * carries our labels and is removed at the end.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { LABELS, MANAGED_BY } from "@twilight/core";
import { dockerClient, sleep } from "../docker/client.js";
import { swarmInfo } from "../docker/swarm.js";
import { buildImages } from "../images/builder.js";
import { CONTAINER_PORT, containerEnv, limitsForPlan, PROFILE_MOUNT } from "../runtime/container-spec.js";
import { DockerDriver } from "../runtime/docker.js";
import { cleanupContainers } from "../runtime/docker-cleanup.js";
import { freePort, makeProfileDir, testUid, waitHealthy } from "../runtime/docker-testkit.js";
import { connectSwarmDriver } from "../runtime/swarm.js";
import type { WorkloadSpec } from "../runtime/types.js";
import { median } from "./stats.js";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: "string", default: "5" }, json: { type: "boolean", default: false } },
  });
  const runs = Math.max(1, Math.min(50, Number(values.runs)));
  const say = (s: string) => (values.json ? undefined : process.stderr.write(`${s}\n`));
  const docker = dockerClient();
  const sw = await swarmInfo(docker);
  if (sw.state !== "active" || !sw.manager) {
    const why = `skipped: this engine is not a swarm manager (state ${sw.state}); run \`hermes-admin swarm init\` first`;
    process.stdout.write(values.json ? `${JSON.stringify({ skipped: why })}\n` : `swarm spawn-to-healthy ${why}\n`);
    return;
  }
  const report = await buildImages({ only: ["profile"], onProgress: say });
  const image = report.images.find((i) => i.kind === "profile")?.ref as string;
  const imageId = ((await docker.getImage(image).inspect()) as { Id: string }).Id;
  const runId = Math.random().toString(36).slice(2, 8);
  const root = await mkdtemp(join(tmpdir(), "twl-bench-"));
  const skillsDir = join(root, "skills");
  await mkdir(skillsDir);
  const uid = testUid();
  const port = await freePort();
  const name = `bench-swarm-${runId}`;
  const prof = await makeProfileDir({ root: join(root, "profiles"), skillsDir, name, uid, gid: uid, port });
  const limits = () => limitsForPlan("dedicated_pro");
  const swarm = await connectSwarmDriver({ image, limitsFor: limits });
  const container = new DockerDriver({ image, limitsFor: limits });
  const series = { swarm: [] as number[], container: [] as number[], bare: [] as number[] };
  let generation = 0;
  const spec = (tier: "swarm" | "container"): WorkloadSpec => ({
    profile: name,
    tier,
    generation: ++generation,
    dir: prof.dir,
    uid,
    gid: uid,
    port,
    image,
    skillsDir,
    logDir: root,
  });
  const timed = async (start: () => Promise<unknown>, stop: () => Promise<unknown>) => {
    const t0 = performance.now();
    await start();
    await waitHealthy(port, 60_000);
    const ms = performance.now() - t0;
    await stop();
    return ms;
  };
  const bareLabels = { [LABELS.managedBy]: MANAGED_BY, [LABELS.role]: "bench", "io.twilight.bench": runId };
  const bare = async (i: number) => {
    let id = "";
    return timed(
      async () => {
        const s = (await docker.createService({
          Name: `${name}-bare-${i}`,
          Labels: bareLabels,
          TaskTemplate: {
            ContainerSpec: {
              Image: imageId,
              User: `${uid}:${uid}`,
              Env: containerEnv(),
              Mounts: [{ Type: "bind", Source: prof.dir, Target: PROFILE_MOUNT }],
            },
          },
          EndpointSpec: {
            Mode: "dnsrr",
            Ports: [{ Protocol: "tcp", TargetPort: CONTAINER_PORT, PublishedPort: port, PublishMode: "host" }],
          },
        } as never)) as { id: string };
        id = s.id;
      },
      async () => {
        await docker.getService(id).remove();
        // the port is free again only once the task's container is gone
        for (let k = 0; k < 100; k++) {
          const left = await docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.id=${id}`] } });
          if (left.length === 0) break;
          await sleep(100);
        }
      },
    );
  };
  try {
    for (let i = 1; i <= runs; i++) {
      const s1 = spec("swarm");
      series.swarm.push(
        await timed(
          () => swarm.start(s1),
          () => swarm.remove(s1),
        ),
      );
      const s2 = spec("container");
      series.container.push(
        await timed(
          () => container.start(s2),
          () => container.remove(s2),
        ),
      );
      series.bare.push(await bare(i));
      say(
        `run ${i}: swarm ${Math.round(series.swarm[i - 1] as number)} ms, container ${Math.round(series.container[i - 1] as number)} ms, bare service ${Math.round(series.bare[i - 1] as number)} ms`,
      );
    }
  } finally {
    swarm.close();
    container.close();
    for (const s of await docker.listServices({ filters: { label: [`io.twilight.bench=${runId}`] } }))
      await docker
        .getService(s.ID)
        .remove()
        .catch(() => undefined);
    for (const s of await docker.listServices({ filters: { label: [`${LABELS.profile}=${name}`] } }))
      await docker
        .getService(s.ID)
        .remove()
        .catch(() => undefined);
    await cleanupContainers(docker, { profile: name });
    for (const s of await docker.listSecrets({ filters: { label: [`${LABELS.profile}=${name}`] } }))
      await docker
        .getSecret(s.ID)
        .remove()
        .catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  }
  const [w, c, b] = [median(series.swarm), median(series.container), median(series.bare)];
  const result = {
    runs,
    swarm_median_ms: Math.round(w),
    container_median_ms: Math.round(c),
    bare_service_median_ms: Math.round(b),
    ratio_swarm_bare: Math.round((w / b) * 100) / 100,
    ratio_swarm_container: Math.round((w / c) * 100) / 100,
    swarm_ms: series.swarm.map(Math.round),
    container_ms: series.container.map(Math.round),
    bare_service_ms: series.bare.map(Math.round),
  };
  if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else
    process.stdout.write(
      [
        `swarm spawn-to-healthy (dedicated_pro limits), median of ${runs}:`,
        `  swarm driver (secret, hardened service)  ${result.swarm_median_ms} ms`,
        `  container driver, same profile           ${result.container_median_ms} ms`,
        `  bare docker service create               ${result.bare_service_median_ms} ms`,
        `  ratio swarm/bare service: ${result.ratio_swarm_bare}; swarm/container: ${result.ratio_swarm_container}`,
        "",
      ].join("\n"),
    );
}

main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
