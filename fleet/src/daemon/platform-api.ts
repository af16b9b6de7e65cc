/** Admin API routes for the host platform: images, the data-service container, compose output, orphaned containers. */
import type { IncomingMessage } from "node:http";
import { DriverError, type Logger, type Router, readJson, sendJson, workloadName } from "@twilight/core";
import { z } from "zod";
import { renderCompose } from "../compose.js";
import { buildImages, imageRefs, projectVersion } from "../images/index.js";
import { McpService } from "../mcp-service/index.js";
import { limitsForPlan } from "../runtime/container-spec.js";
import type { DockerDriver } from "../runtime/docker.js";
import { cleanupContainers, orphanReport } from "../runtime/docker-cleanup.js";
import type { FleetContext } from "../service/context.js";
import { specOf } from "../service/workloads.js";
import { respondOp } from "./ops.js";

export interface PlatformDeps {
  ctx: FleetContext;
  log: Logger;
  docker: DockerDriver | undefined;
}

const BuildBody = z.object({ force: z.boolean().optional(), only: z.array(z.enum(["profile", "mcp"])).optional() }).strict();

export function platformRoutes(r: Router, auth: (req: IncomingMessage) => void, d: PlatformDeps): void {
  const engine = () => {
    if (!d.docker)
      throw new DriverError("docker", "Docker Engine is not available to the fleet daemon", {
        hint: "start dockerd (scripts/lib/common.sh ensure_docker), then restart the daemon (hermes-admin down && hermes-admin up)",
      });
    return d.docker;
  };
  const mcp = () => new McpService({ docker: engine().docker, dataDir: d.ctx.cfg.mcp.dataDir });

  r.on("POST", "/v1/images/build", async (req, res) => {
    auth(req);
    const body = BuildBody.parse(await readJson(req, 4096));
    const docker = engine().docker;
    await respondOp(
      req,
      res,
      (progress) => buildImages({ docker, force: body.force, only: body.only, onProgress: (line) => progress(line), log: d.log }),
      {
        log: d.log,
      },
    );
  });
  r.on("POST", "/v1/mcp/up", async (req, res) => {
    auth(req);
    await respondOp(req, res, async (progress) => {
      progress("starting twilight-mcp-tushare");
      return await mcp().up();
    });
  });
  r.on("POST", "/v1/mcp/down", async (req, res) => {
    auth(req);
    sendJson(res, 200, { stopped: await mcp().down() });
  });
  r.on("GET", "/v1/mcp/status", async (req, res) => {
    auth(req);
    sendJson(res, 200, await mcp().status());
  });
  r.on("GET", "/v1/profiles/:name/compose", async (req, res, p) => {
    auth(req);
    const row = await d.ctx.registry.get(p.name as string);
    if (!row) throw new DriverError("docker", `profile ${p.name} not found`);
    const spec = specOf(d.ctx, row, { tier: "container" });
    res.writeHead(200, { "content-type": "text/yaml; charset=utf-8" });
    const image = spec.image ?? imageRefs(await projectVersion()).profile;
    res.end(renderCompose(spec, { limits: limitsForPlan(row.plan), image }));
  });
  r.on("GET", "/v1/orphans", async (req, res) => {
    auth(req);
    const known = new Set((await d.ctx.registry.list()).map((row) => workloadName(row.name, row.generation)));
    sendJson(res, 200, { orphans: await orphanReport(engine().docker, known) });
  });
  r.on("POST", "/v1/orphans/remove", async (req, res) => {
    auth(req);
    const known = new Set((await d.ctx.registry.list()).map((row) => workloadName(row.name, row.generation)));
    const orphans = await orphanReport(engine().docker, known);
    const removed = orphans.length
      ? await cleanupContainers(engine().docker, { onlyIds: new Set(orphans.map((o) => o.id)) })
      : [];
    await d.ctx.registry.addEvent({
      profile: "fleet",
      actor: "api",
      action: "orphans-remove",
      result: "ok",
      detail: { removed: removed.map((o) => o.name) },
    });
    sendJson(res, 200, { removed });
  });
}
