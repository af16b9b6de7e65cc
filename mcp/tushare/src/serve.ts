/** Start the service from the environment and stop it cleanly on SIGTERM/SIGINT. */
import { createLogger } from "@twilight/core";
import { readConfig } from "./config.js";
import { Metrics } from "./metrics.js";
import { startService } from "./service.js";
import { schedulerSettings, sourceFromConfig } from "./setup.js";

export async function serve(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const cfg = readConfig(env);
  const log = createLogger("mcp-tushare", { level: cfg.LOG_LEVEL });
  const metrics = new Metrics();
  const api = sourceFromConfig(cfg, log, metrics);
  if (api.source === "fixture")
    log.warn("no TUSHARE_TOKEN: the warehouse is filled from the embedded fixture (2023-2025 sample)");
  const svc = await startService({
    dataDir: cfg.MCP_DATA_DIR,
    host: cfg.MCP_HOST,
    port: cfg.MCP_PORT,
    ...(cfg.MCP_SOCKET_PATH ? { socketPath: cfg.MCP_SOCKET_PATH } : {}),
    api,
    scheduler: schedulerSettings(cfg, api),
    log,
    metrics,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "stopping");
    const force = setTimeout(() => process.exit(1), 15_000);
    force.unref();
    svc.close().then(
      () => process.exit(0),
      (e) => {
        log.error({ err: e }, "error while stopping");
        process.exit(1);
      },
    );
  };
  // SIGHUP: re-read the cite key set now (it is also re-read whenever cite-keyset.json changes)
  process.on("SIGHUP", () => svc.keys.reload(true));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
