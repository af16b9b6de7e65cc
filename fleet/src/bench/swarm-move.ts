/**
 * Benchmark: `move` between two swarm nodes under 20 requests/s, beside a stop-and-start move of the same profile
 * (stop, cold move, start: what moving costs without the live handover). For the live move: the pause (hold ->
 * release) and the longest held request; for the stop-and-start move: how long the profile did not serve (stop ->
 * healthy again). Medians of N round trips (node A -> B -> A), ratio printed.
 * The second node is a dockerd in its own network namespace on this machine (testing/swarm-node.ts; no
 * Docker-in-Docker); needs root and an engine that can be a swarm manager. Says so and exits 0 when it cannot.
 *   node fleet/dist/bench/swarm-move.js [rounds=3] [--json]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { dockerClient } from "../docker/client.js";
import { buildImages } from "../images/builder.js";
import { imageRefs, projectVersion } from "../images/refs.js";
import { fleetHarness } from "../testing/harness.js";
import { addSwarmNode, canMakeSwarmNode, prepareForProfiles } from "../testing/swarm-node.js";
import { ProfileClient, steadyLoad } from "../verify/profile-client.js";
import { median } from "./stats.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { json: { type: "boolean", default: false } },
});
const rounds = Math.max(1, Math.min(20, Number(positionals[0] ?? 3)));
const cannot = canMakeSwarmNode();
if (cannot) {
  const why = `skipped: cannot make a second swarm node here (${cannot})`;
  console.log(values.json ? JSON.stringify({ bench: "swarm-move", skipped: why }) : `swarm move ${why}`);
  process.exit(0);
}
await buildImages({ only: ["profile"] });
const docker = dockerClient();
const nodeRoot = mkdtempSync("/var/tmp/twl-bench-node-");
const h = await fleetHarness({ LOG_LEVEL: "warn", FLEET_PORT_RANGE: "19401-19499" });
let node: Awaited<ReturnType<typeof addSwarmNode>> | undefined;
try {
  await h.startDaemon();
  const init = h.cli(["swarm", "init", "--json"]);
  if (init.code !== 0) throw new Error(init.stderr);
  const self = (JSON.parse(init.stdout) as { node: string }).node;
  node = await addSwarmNode(docker);
  await prepareForProfiles(docker, node, nodeRoot, [imageRefs(await projectVersion()).profile]);

  const name = "bench-move";
  const sp = await h.cliAsync(["spawn", name, "--tier", "swarm", "--node", self]);
  if (sp.code !== 0) throw new Error(sp.stderr);
  const row = () =>
    h
      .cliJson<{ profiles: Array<{ name: string; profile_path: string; status_url: string }> }>(["list", "--no-stats"])
      .profiles.find((p) => p.name === name) as { profile_path: string; status_url: string };
  const live = { pause: [] as number[], held: [] as number[], total: [] as number[], failed: 0, sent: 0 };
  // the source's stop differs: a task on this node is stopped through its container at once, one on another node
  // through the swarm (which reports it stopped only after ~3 s)
  const pauseFrom: Record<"this node" | "other node", number[]> = { "this node": [], "other node": [] };
  const cold = { down: [] as number[], failed: 0, sent: 0 };
  const targets = [node.name, self];
  for (let i = 0; i < rounds; i++) {
    for (const to of targets) {
      const l = steadyLoad(new ProfileClient(name, h.url, row().profile_path), 20);
      const r = await h.cliAsync(["move", name, "--to-node", to, "--json"]);
      const s = await l.stop();
      if (r.code !== 0) throw new Error(r.stderr);
      const m = JSON.parse(r.stdout) as { pause_ms: number; held_ms: number; total_ms: number };
      live.pause.push(m.pause_ms);
      pauseFrom[to === self ? "other node" : "this node"].push(m.pause_ms);
      live.held.push(m.held_ms);
      live.total.push(m.total_ms);
      live.failed += s.failed;
      live.sent += s.sent;
    }
    for (const to of targets) {
      // the same trip without the handover: stop, move the stopped profile, start (requests fail meanwhile)
      const t0 = performance.now();
      for (const argv of [
        ["stop", name],
        ["move", name, "--to-node", to],
        ["start", name],
      ]) {
        const r = await h.cliAsync(argv);
        if (r.code !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
      }
      const url = row().status_url;
      for (
        let k = 0;
        k < 600 &&
        (await fetch(url).then(
          (x) => x.status,
          () => 0,
        )) !== 200;
        k++
      )
        await new Promise((res) => setTimeout(res, 50));
      cold.down.push(Math.round(performance.now() - t0));
    }
  }
  const out = {
    bench: "swarm-move",
    rounds,
    live: {
      pause_ms: median(live.pause),
      held_ms: median(live.held),
      total_ms: median(live.total),
      failed: live.failed,
      sent: live.sent,
      pause_from_this_node_ms: median(pauseFrom["this node"]),
      pause_from_other_node_ms: median(pauseFrom["other node"]),
    },
    stop_and_start: { unavailable_ms: median(cold.down) },
    ratio_pause_vs_stop_start: +(median(live.pause) / median(cold.down)).toFixed(3),
  };
  if (values.json) console.log(JSON.stringify(out));
  else
    console.log(
      `move between swarm nodes, median of ${rounds * 2} moves (20 requests/s during live moves):\n` +
        `  live move: pause ${out.live.pause_ms} ms, longest held request ${out.live.held_ms} ms, total ${out.live.total_ms} ms; ${live.failed}/${live.sent} requests failed\n` +
        `    pause when the source runs on this node ${out.live.pause_from_this_node_ms} ms, on the other node ${out.live.pause_from_other_node_ms} ms\n` +
        `  stop-and-start move: unavailable for ${out.stop_and_start.unavailable_ms} ms\n` +
        `  ratio pause / stop-and-start: ${out.ratio_pause_vs_stop_start}`,
    );
} finally {
  try {
    await node?.remove();
  } finally {
    await h.cleanup();
    for (const s of await docker.listServices({ filters: { label: ["io.twilight.profile=bench-move"] } }))
      await docker
        .getService(s.ID)
        .remove()
        .catch(() => undefined);
    rmSync(nodeRoot, { recursive: true, force: true });
  }
}
