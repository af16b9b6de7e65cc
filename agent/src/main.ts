/**
 * Entry point of one profile process: `node agent/dist/main.js` with HERMES_HOME (default: cwd).
 * Reads the profile, serves the API on API_SERVER_HOST:API_SERVER_PORT, and on SIGTERM/SIGINT drains and exits 0.
 */
import { createLogger, isDomainError } from "@twilight/core";
import { idleCollector } from "./idle-gc.js";
import { AgentMetrics } from "./metrics.js";
import { loadProfile } from "./profile.js";
import { openRuntime, type Runtime } from "./runtime.js";
import { AgentServer } from "./server.js";

async function main(): Promise<void> {
  const log = createLogger("agent");
  const profile = loadProfile();
  const plog = log.child({ profile: profile.name, generation: profile.generation });
  if (profile.missing.length) plog.warn({ vars: profile.missing }, "config.yaml references variables that are not set");
  const metrics = new AgentMetrics(profile.name);
  let runtime: Runtime | null = null;
  const idle =
    profile.idleGcMs > 0 ? idleCollector(profile.idleGcMs, (ms) => plog.debug({ ms }, "idle: memory given back")) : undefined;
  const server = new AgentServer({
    ...(idle ? { idle } : {}),
    profile: profile.name,
    generation: profile.generation,
    apiKey: profile.apiKey,
    metrics,
    log: plog,
    open: async () => {
      runtime = await openRuntime({ profile, metrics, log: plog });
      return runtime.router;
    },
    close: async () => {
      const r = runtime as Runtime | null;
      runtime = null;
      await r?.close();
    },
  });
  if (!profile.standby) await server.activate();
  const addr = await server.listen(profile.host, profile.port);
  plog.info({ host: addr.address, port: addr.port, state: server.state }, "profile API listening");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    plog.info({ signal }, "stopping: draining in-flight requests");
    const hard = setTimeout(() => {
      plog.error("shutdown took too long; exiting");
      process.exit(1);
    }, profile.shutdownGraceMs + 5_000);
    hard.unref();
    idle?.stop();
    await server.close(profile.shutdownGraceMs);
    await (runtime as Runtime | null)?.close();
    plog.info("stopped cleanly");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((e: unknown) => {
  const log = createLogger("agent");
  if (isDomainError(e)) log.fatal({ code: e.code, hint: e.hint }, e.message);
  else log.fatal({ err: e }, "agent failed to start");
  process.exit(1);
});
