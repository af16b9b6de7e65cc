/**
 * Benchmark: what the network a container joins costs `docker start`. The profile image's Node runs `node -e 0` on the
 * default bridge, on the fleet's `twilight` network (user-defined: the engine also sets up its embedded DNS in the
 * container) and with no network, alternating, timing create, start and the run to its exit. It explains most of the
 * gap between the container driver and a bare create+start (README Measured; issue 13).
 *   node fleet/dist/bench/container-network.js [--runs 5] [--json]
 * Everything it creates carries our labels and is removed by label at the end.
 */
import { parseArgs } from "node:util";
import { LABELS, MANAGED_BY } from "@twilight/core";
import { dockerClient, ensureNetwork } from "../docker/client.js";
import { buildImages } from "../images/builder.js";
import { removeLabelled } from "../runtime/docker-cleanup.js";
import { median } from "./stats.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, json: { type: "boolean", default: false } } });
const runs = Math.max(1, Math.min(50, Number(values.runs)));
const docker = dockerClient();
const report = await buildImages({ only: ["profile"], onProgress: (s) => values.json || process.stderr.write(`${s}\n`) });
const image = report.images.find((i) => i.kind === "profile")?.ref as string;
await ensureNetwork(docker, "twilight");
const labels = { [LABELS.role]: "bench", "io.twilight.bench": `net-${process.pid}` };
const NETWORKS = ["bridge", "twilight", "none"] as const;
const t: Record<string, { create: number[]; start: number[]; run: number[] }> = Object.fromEntries(
  NETWORKS.map((n) => [n, { create: [], start: [], run: [] }]),
);
try {
  // round -1 warms the engine up (the first create of a session is slow) and is not counted
  for (let i = -1; i < runs; i++)
    for (const net of NETWORKS) {
      const s = i < 0 ? { create: [], start: [], run: [] } : (t[net] as { create: number[]; start: number[]; run: number[] });
      const t0 = performance.now();
      const c = await docker.createContainer({
        Image: image,
        Entrypoint: ["node", "-e", "0"],
        Cmd: [],
        Labels: { [LABELS.managedBy]: MANAGED_BY, ...labels },
        HostConfig: { NetworkMode: net },
      });
      const t1 = performance.now();
      await c.start();
      const t2 = performance.now();
      await c.wait();
      s.create.push(t1 - t0);
      s.start.push(t2 - t1);
      s.run.push(performance.now() - t2);
      await c.remove({ force: true });
    }
} finally {
  await removeLabelled(docker, labels);
}
const out = Object.fromEntries(
  NETWORKS.map((n) => [
    n,
    {
      create_ms: Math.round(median(t[n]?.create ?? [])),
      start_ms: Math.round(median(t[n]?.start ?? [])),
      run_ms: Math.round(median(t[n]?.run ?? [])),
    },
  ]),
);
if (values.json) process.stdout.write(`${JSON.stringify({ bench: "container-network", runs, image, ...out })}\n`);
else {
  process.stdout.write(`docker start by network, median of ${runs} (image ${image}, node -e 0):\n`);
  for (const n of NETWORKS) {
    const r = out[n] as { create_ms: number; start_ms: number; run_ms: number };
    process.stdout.write(`  ${n.padEnd(9)} create ${r.create_ms} ms  start ${r.start_ms} ms  run to exit ${r.run_ms} ms\n`);
  }
  const tw = out.twilight as { start_ms: number };
  const br = out.bridge as { start_ms: number };
  process.stdout.write(`  joining twilight costs start ${tw.start_ms - br.start_ms} ms over the default bridge\n`);
}
