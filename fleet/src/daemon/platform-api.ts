/** Admin API handlers for the host platform: images, the data-service container, compose output, orphaned containers. */
import { DriverError, InputInvalid, type Logger, Precondition, workloadName } from "@twilight/core";
import { renderCompose } from "../compose.js";
import type { GatewayService } from "../gateway-service/index.js";
import { buildImages, imageRefs, projectVersion } from "../images/index.js";
import { McpService } from "../mcp-service/index.js";
import { pinKeys, readPublishedKeys } from "../profiles/pinned-keys.js";
import { limitsForPlan } from "../runtime/container-spec.js";
import type { DockerDriver } from "../runtime/docker.js";
import { cleanupContainers, orphanReport } from "../runtime/docker-cleanup.js";
import type { SwarmDriver } from "../runtime/swarm.js";
import { SWARM_NETWORK } from "../runtime/swarm-spec.js";
import { audit } from "../workload/audit.js";
import type { FleetContext } from "../workload/context.js";
import { specOf } from "../workload/workloads.js";
import { type DependencyWarning, dependencyWarnings } from "./dependencies.js";
import { daemonDoctor } from "./doctor.js";
import type { Handlers } from "./mount.js";

export interface PlatformDeps {
  ctx: FleetContext;
  log: Logger;
  docker: DockerDriver | undefined;
  gateway: GatewayService;
  /** What the prefab sandbox enforces on this host (a doctor row). */
  sandbox: string;
}

export type PlatformHandlers = Pick<
  Handlers,
  | "buildImages"
  | "mcpUp"
  | "mcpDown"
  | "mcpStatus"
  | "rotateCiteKey"
  | "orphans"
  | "removeOrphans"
  | "profileCompose"
  | "gatewayUp"
  | "gatewayDown"
  | "gatewayStatus"
  | "usage"
  | "doctor"
>;

/** The shared data service of this fleet (its container on the given engine). */
export function mcpServiceOf(ctx: FleetContext, docker: DockerDriver): McpService {
  return new McpService({
    docker: docker.docker,
    name: ctx.cfg.mcp.container,
    hostPort: ctx.cfg.mcp.hostPort,
    dataDir: ctx.cfg.mcp.dataDir,
    socketDir: ctx.cfg.mcp.socketDir,
    user: { uid: ctx.cfg.mcp.uid, gid: ctx.cfg.mcp.uid },
  });
}

/**
 * What the platform services a profile depends on look like now, as warnings (see dependencies.ts): the data service
 * always; the model gateway when profiles reach their model through it.
 */
export async function platformWarnings(d: Pick<PlatformDeps, "ctx" | "docker" | "gateway">): Promise<DependencyWarning[]> {
  const why = (e: unknown) => ({ error: (e as Error).message });
  const mcp = d.docker
    ? await mcpServiceOf(d.ctx, d.docker).status().catch(why)
    : { error: "Docker Engine is not available to the fleet daemon" };
  const m = d.ctx.cfg.model;
  const gateway = m.provider === "custom" && m.route === "gateway" ? await d.gateway.status().catch(why) : undefined;
  return dependencyWarnings({ mcp, ...(gateway ? { gateway } : {}) });
}

export function platformHandlers(d: PlatformDeps): PlatformHandlers {
  const engine = () => {
    if (!d.docker)
      throw new DriverError("docker", "Docker Engine is not available to the fleet daemon", {
        hint: "start dockerd (scripts/lib/common.sh ensure_docker), then restart the daemon (hermes-admin down && hermes-admin up)",
      });
    return d.docker;
  };
  const mcp = () => mcpServiceOf(d.ctx, engine());
  /** Pin the data service's current key set into every (layout-2) profile; returns how many were pinned. */
  const repin = async () => {
    const published = await readPublishedKeys(d.ctx.cfg.mcp.dataDir, d.ctx.cfg.mcp.uid);
    let n = 0;
    for (const row of await d.ctx.registry.list()) if (await pinKeys(row.profile_path, row.gid, published)) n++;
    return n;
  };
  const known = async () => new Set((await d.ctx.registry.list()).map((row) => workloadName(row.name, row.generation)));
  return {
    buildImages: ({ body, progress }) =>
      buildImages({
        docker: engine().docker,
        force: body.force,
        only: body.only,
        onProgress: (line) => progress(line),
        log: d.log,
      }),
    mcpUp: async ({ body, progress }) => {
      const svc = mcp();
      let swarm: { node: string; overlay: string } | undefined;
      if (body.swarm) {
        if (!d.ctx.drivers.has("swarm"))
          throw new Precondition("the swarm tier is not on in this fleet", { hint: "hermes-admin swarm init" });
        swarm = { node: (d.ctx.drivers.for("swarm") as SwarmDriver).identity.node, overlay: SWARM_NETWORK };
      }
      progress(`starting ${svc.name}${swarm ? ` as a swarm service on ${swarm.node}` : ""}`);
      let status = await svc.up({ ...(swarm ? { swarm } : {}) });
      progress("pinning its cite keys into every profile", { pinned: await repin() });
      const deadline = Date.now() + (body.wait_seeded_ms ?? 0);
      let said = "";
      while (status.health?.seeding?.state === "seeding" && Date.now() < deadline) {
        const s = status.health.seeding;
        const line = `seeding the warehouse: ${s.days_done} of ${s.days_total ?? "?"} days${s.as_of ? `, data as of ${s.as_of}` : ""}`;
        if (line !== said) progress(line);
        said = line;
        await new Promise((r) => setTimeout(r, 500));
        status = await svc.status();
      }
      return status;
    },
    rotateCiteKey: async ({ body, actor, progress }) => {
      progress("rotating the data service's cite key");
      const r = await mcp().rotateKey({
        graceSeconds: body.grace_seconds ?? 3600,
        activateInSeconds: body.activate_in_seconds ?? 2,
      });
      progress("pinning the new key set into every profile");
      const pinned = await repin();
      await audit(d.ctx, { profile: "fleet", actor, action: "mcp-rotate-key", result: "ok", detail: { ...r, pinned } });
      return { ...r, pinned };
    },
    mcpDown: async () => ({ stopped: await mcp().down() }),
    mcpStatus: async () => mcp().status(),
    gatewayUp: async ({ body, actor, progress }) => {
      const { upstream_base_url: baseUrl, upstream_api_key: apiKey } = body;
      if ((baseUrl === undefined) !== (apiKey === undefined))
        throw new InputInvalid("give both upstream_base_url and upstream_api_key, or neither");
      progress("starting the model gateway");
      const status = await d.gateway.up(baseUrl && apiKey ? { upstream: { baseUrl, apiKey } } : {});
      // never the key: only that the upstream was (re)configured
      await audit(d.ctx, {
        profile: "fleet",
        actor,
        action: "gateway-up",
        result: "ok",
        detail: { upstream_set: Boolean(apiKey), pid: status.pid },
      });
      return status;
    },
    gatewayDown: async () => ({ stopped: await d.gateway.down() }),
    gatewayStatus: async () => d.gateway.status(),
    usage: async ({ query }) => ({ usage: (await d.gateway.usage(query)) as never }),
    profileCompose: async ({ res, params }) => {
      const row = await d.ctx.registry.get(params.name);
      if (!row) throw new DriverError("docker", `profile ${params.name} not found`);
      const spec = specOf(d.ctx, row, { tier: "container" });
      const image = spec.image ?? imageRefs(await projectVersion()).profile;
      res.writeHead(200, { "content-type": "text/yaml; charset=utf-8" });
      res.end(renderCompose(spec, { limits: limitsForPlan(row.plan), image }));
    },
    doctor: async () => ({ checks: await daemonDoctor({ ctx: d.ctx, docker: d.docker, sandbox: d.sandbox, log: d.log }) }),
    orphans: async () => ({ orphans: await orphanReport(engine().docker, await known()) }),
    removeOrphans: async ({ actor }) => {
      const orphans = await orphanReport(engine().docker, await known());
      const removed = orphans.length
        ? await cleanupContainers(engine().docker, { onlyIds: new Set(orphans.map((o) => o.id)) })
        : [];
      await audit(d.ctx, {
        profile: "fleet",
        actor,
        action: "orphans-remove",
        result: "ok",
        detail: { removed: removed.map((o) => o.name) },
      });
      return { removed };
    },
  };
}
