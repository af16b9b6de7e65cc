/**
 * Entry point of one profile process: `node agent/dist/main.js` with HERMES_HOME (default: cwd).
 * Reads the profile, serves the API on API_SERVER_HOST:API_SERVER_PORT, and on SIGTERM/SIGINT drains and exits 0.
 * With TWILIGHT_POOL_KEY set it starts pooled (the fleet's warm pool): no profile until `POST /admin/assign` gives it
 * one, with the environment and directory a fresh start of that profile would have (server.ts).
 */
import { createLogger, isDomainError, type Logger } from "@twilight/core";
import { type IdleCollector, idleCollector } from "./idle-gc.js";
import { AgentMetrics } from "./metrics.js";
import { loadProfile, type Profile } from "./profile.js";
import { openRuntime, type Runtime } from "./runtime.js";
import { AgentServer, type PoolAssignment, type ServerDeps } from "./server.js";

interface Booted {
  profile: Profile;
  deps: ServerDeps;
  idle?: IdleCollector;
  runtime(): Runtime | null;
}

/** Everything of one profile the server needs, read from the process's environment and directory. */
function boot(log: Logger): Booted {
  const profile = loadProfile();
  const plog = log.child({ profile: profile.name, generation: profile.generation });
  if (profile.missing.length) plog.warn({ vars: profile.missing }, "config.yaml references variables that are not set");
  const metrics = new AgentMetrics(profile.name);
  let runtime: Runtime | null = null;
  const idle =
    profile.idleGcMs > 0 ? idleCollector(profile.idleGcMs, (ms) => plog.debug({ ms }, "idle: memory given back")) : undefined;
  const deps: ServerDeps = {
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
  };
  return { profile, deps, ...(idle ? { idle } : {}), runtime: () => runtime };
}

/** A pooled runtime takes its profile's environment and directory as its own, as if it had been started with them. */
function adoptEnvironment(a: PoolAssignment): void {
  for (const k of Object.keys(process.env)) if (!(k in a.env)) delete process.env[k];
  Object.assign(process.env, a.env);
  process.chdir(a.cwd);
}

async function main(): Promise<void> {
  const log = createLogger("agent");
  const poolKey = process.env.TWILIGHT_POOL_KEY;
  let booted: Booted | null = null;
  let server: AgentServer;
  let host: string;
  let port: number;
  if (poolKey) {
    host = process.env.API_SERVER_HOST ?? "127.0.0.1";
    port = Number(process.env.API_SERVER_PORT);
    if (!Number.isInteger(port) || port <= 0) throw new Error("a pooled runtime needs API_SERVER_PORT");
    server = new AgentServer(null, {
      key: poolKey,
      log,
      assign: async (a) => {
        adoptEnvironment(a);
        booted = boot(createLogger("agent"));
        return booted.deps;
      },
    });
  } else {
    booted = boot(log);
    server = new AgentServer(booted.deps);
    if (!booted.profile.standby) await server.activate();
    host = booted.profile.host;
    port = booted.profile.port;
  }
  const logOf = (): Logger => (booted as Booted | null)?.deps.log ?? log;
  const addr = await server.listen(host, port);
  logOf().info({ host: addr.address, port: addr.port, state: server.state }, "profile API listening");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const b = booted as Booted | null;
    const grace = b?.profile.shutdownGraceMs ?? 1_000;
    logOf().info({ signal }, "stopping: draining in-flight requests");
    const hard = setTimeout(() => {
      logOf().error("shutdown took too long; exiting");
      process.exit(1);
    }, grace + 5_000);
    hard.unref();
    b?.idle?.stop();
    await server.close(grace);
    await b?.runtime()?.close();
    logOf().info("stopped cleanly");
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
