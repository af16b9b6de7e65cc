/**
 * The daemon's observability wiring (issue 11): the scrape token and the scrape path (`handleScrape`), the `file_sd`
 * file kept current with the registry, the data-service freshness probe every minute, and the supervisor's hooks that
 * turn crashes, restarts and health probes into `twilight_*` metrics. serve.ts builds one and mounts `scrape` first.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import type { Logger } from "@twilight/core";
import type { FleetConfig } from "../config.js";
import { squatter } from "../lib/sockets.js";
import {
  type FleetMetrics,
  forgetProfile,
  recordCrash,
  recordDataService,
  recordHealthCheck,
  recordHealthRestart,
  recordRestarted,
  recordStable,
  syncProfiles,
} from "../metrics.js";
import { probeDataService } from "../observability/data-service-probe.js";
import { buildFileSd, renderFileSd, writeFileSd } from "../observability/file-sd.js";
import { ensureScrapeToken } from "../observability/files.js";
import { prometheusBundle } from "../observability/prometheus-config.js";
import { handleScrape, type ScrapeTarget } from "../observability/scrape-handler.js";
import { readProfileEnv } from "../profiles/layout.js";
import type { Registry } from "../registry/types.js";
import type { SupervisorHooks } from "../supervisor/supervisor.js";
import type { FleetContext } from "../workload/context.js";
import { listenerUidOf } from "../workload/workloads.js";

/** Where the daemon keeps what Prometheus reads: `<ops>/prometheus/{scrape-token,profiles.json}`. */
export function prometheusPaths(cfg: FleetConfig) {
  const dir = join(cfg.opsDir, "prometheus");
  return { dir, tokenFile: join(dir, "scrape-token"), targetsFile: join(dir, "profiles.json") };
}

const RULES = new URL("../../../deploy/prometheus/rules/twilight.rules.yml", import.meta.url);

export interface Observer {
  scrapeToken: string;
  /** Mount first: answers scrape-token requests (true), leaves everything else alone (false). */
  scrape(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** The fleet registry's text after syncing the per-profile gauges with the registry. */
  fleetText(): Promise<{ contentType: string; body: string }>;
  /** Rewrite the file_sd file if the fleet changed (cheap: compares the rendered text); the leader's job only. */
  refreshTargets(): Promise<void>;
  /** The bundle `hermes-admin prometheus config` writes (relative path -> content, mode). */
  bundle(fleetAddress: string): Promise<Array<{ path: string; content: string; mode: number }>>;
  hooks: SupervisorHooks;
  close(): void;
}

export function startObserver(o: {
  ctx: FleetContext;
  metrics: FleetMetrics;
  log: Logger;
  /** host:port Prometheus reaches the daemon on (known once it listens). */
  fleetAddress: () => string;
  probeIntervalMs?: number;
  /** Whether this daemon leads: only the leader writes the file_sd file (daemons sharing an ops dir share the file). */
  leads?: () => boolean;
}): Observer {
  const { ctx, metrics: m, log } = o;
  const registry: Registry = ctx.registry;
  const paths = prometheusPaths(ctx.cfg);
  const scrapeToken = ensureScrapeToken(paths.tokenFile);
  const keys = new Map<string, { fp: string; key: string }>();
  let lastTargets: string | undefined;
  const known = new Set<string>();

  const fleetText = async () => {
    const rows = await registry.list();
    syncProfiles(m, rows);
    for (const n of known) if (!rows.some((r) => r.name === n)) forgetProfile(m, n);
    known.clear();
    for (const r of rows) known.add(r.name);
    return { contentType: m.registry.contentType, body: await m.registry.metrics() };
  };

  const profileTarget = async (name: string): Promise<ScrapeTarget | undefined> => {
    const row = await registry.get(name);
    if (!row?.port || !["running", "starting", "migrating"].includes(row.status)) return undefined;
    const owner = listenerUidOf(ctx, row);
    if (squatter(row.port, owner)) return undefined; // never send the key to a port someone else holds
    let k = keys.get(name);
    if (!k || k.fp !== row.secrets_fingerprint) {
      const env = await readProfileEnv(row.profile_path, row.uid).catch(() => ({}) as Record<string, string>);
      if (!env.API_SERVER_KEY) return undefined;
      k = { fp: row.secrets_fingerprint, key: env.API_SERVER_KEY };
      keys.set(name, k);
    }
    return { port: row.port, apiKey: k.key };
  };

  const refreshTargets = async () => {
    if (o.leads && !o.leads()) return;
    const rows = await registry.list();
    const text = renderFileSd(buildFileSd(rows, { fleetAddress: o.fleetAddress() }));
    if (text === lastTargets) return;
    writeFileSd(paths.targetsFile, buildFileSd(rows, { fleetAddress: o.fleetAddress() }), lastTargets);
    lastTargets = text;
    for (const k of keys.keys()) if (!rows.some((r) => r.name === k)) keys.delete(k);
  };

  const probe = async () => {
    const r = await probeDataService(ctx.cfg.mcp.urlPrefab);
    recordDataService(m, r.up, r.lagOpenDays);
  };
  const every = o.probeIntervalMs ?? 60_000;
  const timers = [
    setInterval(() => void probe().catch((err) => log.debug({ err }, "data-service probe failed")), every),
    // a safety net: action handlers refresh at once; this catches the supervisor's own status changes
    setInterval(() => void refreshTargets().catch((err) => log.warn({ err }, "file_sd refresh failed")), 15_000),
  ];
  for (const t of timers) t.unref();
  void probe().catch(() => undefined);

  const hooks: SupervisorHooks = {
    crash: (profile, decision) => recordCrash(m, profile, decision),
    restarted: (profile) => recordRestarted(m, profile),
    stable: (profile) => recordStable(m, profile),
    healthRestart: (profile) => recordHealthRestart(m, profile),
    healthCheck: (profile, tier, ok, seconds) => recordHealthCheck(m, profile, tier, ok, seconds),
  };

  return {
    scrapeToken,
    scrape: (req, res) => handleScrape(req, res, { scrapeToken, fleetMetrics: fleetText, profileTarget }),
    fleetText,
    refreshTargets,
    async bundle(fleetAddress) {
      const { readFile } = await import("node:fs/promises");
      const rows = await registry.list();
      const files = prometheusBundle({
        config: {
          fleetAddress,
          tokenFile: paths.tokenFile,
          targetsFile: paths.targetsFile,
          dataServiceAddress: dataServiceAddress(ctx.cfg.mcp.urlPrefab),
        },
        scrapeToken,
        rules: await readFile(RULES, "utf8"),
        targets: renderFileSd(buildFileSd(rows, { fleetAddress })),
      });
      return [...files].map(([path, f]) => ({ path, content: f.content, mode: f.mode }));
    },
    hooks,
    close() {
      for (const t of timers) clearInterval(t);
    },
  };
}

/** `http://127.0.0.1:9100/mcp` -> `127.0.0.1:9100` (the data service's /metrics is on the same host:port). */
function dataServiceAddress(url: string): string | null {
  try {
    const u = new URL(url);
    return u.port ? `${u.hostname}:${u.port}` : null;
  } catch {
    return null;
  }
}
