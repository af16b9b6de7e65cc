/**
 * Reaching into one profile as the operator: probe its health, read its console log, run a command in it, render its
 * systemd unit. Every call resolves the profile through the registry first (NotFound otherwise) and is audited when
 * it acts inside the profile.
 */
import { Precondition } from "@twilight/core";
import { AGENT_NODE_FLAGS } from "../images/refs.js";
import type { ProfileRow } from "../registry/types.js";
import { agentEntry, processEnv } from "../runtime/process-env.js";
import { sandboxSpec } from "../runtime/sandbox.js";
import type { ExecIO, LogLine, LogOptions } from "../runtime/types.js";
import { renderSystemdUnit } from "../units/systemd.js";
import { askProfile } from "../workload/ask.js";
import { audit } from "../workload/audit.js";
import type { FleetContext } from "../workload/context.js";
import { type HealthResult, probeHealth } from "../workload/health.js";
import { endpointOf, specOf } from "../workload/workloads.js";
import type { ProfileService } from "./profiles.js";

export interface HealthReport {
  name: string;
  tier: ProfileRow["tier"];
  status: ProfileRow["status"];
  healthy: boolean;
  probe: HealthResult;
  last_error: string | null;
}

export class ProfileAccess {
  constructor(
    private readonly ctx: FleetContext,
    private readonly profiles: ProfileService,
  ) {}

  async health(name: string, timeoutMs = 3000): Promise<HealthReport> {
    const row = await this.profiles.get(name);
    // a sleeping profile has no workload to probe (its port is nobody's now); it is fine, and wakes on a request
    const probe: HealthResult =
      row.status === "sleeping"
        ? { ok: false, status: "sleeping", latencyMs: 0, error: "sleeping: its next request wakes it" }
        : await endpointOf(this.ctx, row).then(
            async (ep) => {
              const r = await probeHealth(ep, timeoutMs, ep.owner);
              if (r.ok || !this.ctx.drivers.has(row.tier)) return r;
              const lost = await this.ctx.drivers.for(row.tier).unreachable?.(specOf(this.ctx, row));
              return lost ? { ...r, error: lost } : r;
            },
            (e: Error): HealthResult => ({ ok: false, latencyMs: 0, error: e.message }),
          );
    return { name: row.name, tier: row.tier, status: row.status, healthy: probe.ok, probe, last_error: row.last_error };
  }

  async logs(name: string, opts: LogOptions): Promise<AsyncIterable<LogLine>> {
    const row = await this.profiles.get(name);
    return this.ctx.drivers.for(row.tier).logs(specOf(this.ctx, row), opts);
  }

  /**
   * Ask a running profile a question through its own chat API, with its own key, as its user would: the operator's
   * end-to-end check (model, data service, cites). See workload/ask.ts; only that a question was asked is recorded.
   */
  async ask(name: string, q: { question: string; session_id?: string | undefined }, actor: string, timeoutMs = 90_000) {
    const row = await this.profiles.get(name);
    if (row.status !== "running")
      throw new Precondition(`profile ${name} is ${row.status}, so it cannot answer`, { hint: `hermes-admin start ${name}` });
    await audit(this.ctx, { profile: row.name, actor, action: "ask", result: "info", detail: { chars: q.question.length } });
    return askProfile(this.ctx, row, q, timeoutMs);
  }

  /** Resolves the profile before any output is written, so a bad name is a clean 404. */
  async exec(name: string, argv: string[], actor: string): Promise<(io: ExecIO) => Promise<number>> {
    const row = await this.profiles.get(name);
    return async (io) => {
      await audit(this.ctx, { profile: row.name, actor, action: "exec", result: "info", detail: { argv0: argv[0] } });
      return this.ctx.drivers.for(row.tier).exec(specOf(this.ctx, row), argv, io);
    };
  }

  async unit(name: string): Promise<string> {
    const row = await this.profiles.get(name);
    const env = processEnv({
      dir: row.profile_path,
      appDir: this.ctx.cfg.appDir,
      nodePath: process.execPath,
      generation: row.generation,
      dotenv: {},
    });
    return renderSystemdUnit({
      profile: row.name,
      dir: row.profile_path,
      uid: row.uid,
      gid: row.gid,
      nodePath: process.execPath,
      nodeFlags: AGENT_NODE_FLAGS,
      entry: agentEntry(this.ctx.cfg.appDir),
      appDir: this.ctx.cfg.appDir,
      path: env.PATH as string,
      sandbox: sandboxSpec({ plan: row.plan, dir: row.profile_path }),
    });
  }
}
