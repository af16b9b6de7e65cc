/**
 * Reaching into one profile as the operator: probe its health, read its console log, run a command in it, render its
 * systemd unit. Every call resolves the profile through the registry first (NotFound otherwise) and is audited when
 * it acts inside the profile.
 */
import { Precondition, Unavailable, UpstreamError } from "@twilight/core";
import { squatter } from "../lib/sockets.js";
import { readProfileEnv } from "../profiles/layout.js";
import type { ProfileRow } from "../registry/types.js";
import { agentEntry, processEnv } from "../runtime/process-env.js";
import { sandboxSpec } from "../runtime/sandbox.js";
import type { ExecIO, LogLine, LogOptions } from "../runtime/types.js";
import { renderSystemdUnit } from "../units/systemd.js";
import { audit } from "../workload/audit.js";
import type { FleetContext } from "../workload/context.js";
import { type HealthResult, probeHealth } from "../workload/health.js";
import { listenerUidOf, specOf } from "../workload/workloads.js";
import type { ProfileService } from "./profiles.js";

export interface HealthReport {
  name: string;
  tier: ProfileRow["tier"];
  status: ProfileRow["status"];
  healthy: boolean;
  probe: HealthResult;
  last_error: string | null;
}

export interface AskAnswer {
  profile: string;
  session_id: string;
  answer: string;
  citations: Array<{ ref: number; source: string; api: string; as_of: string; request_id: string }>;
  model: string;
  ms: number;
}

interface ChatBody {
  session_id?: string;
  model?: string;
  choices?: Array<{ message?: { content?: string } }>;
  citations?: Array<{ ref?: number; cite?: { source?: string; api?: string; as_of?: string; request_id?: string } }>;
  error?: { message?: string };
}

export class ProfileAccess {
  constructor(
    private readonly ctx: FleetContext,
    private readonly profiles: ProfileService,
  ) {}

  async health(name: string, timeoutMs = 3000): Promise<HealthReport> {
    const row = await this.profiles.get(name);
    const probe = await probeHealth(row.port, timeoutMs, listenerUidOf(this.ctx, row));
    return { name: row.name, tier: row.tier, status: row.status, healthy: probe.ok, probe, last_error: row.last_error };
  }

  async logs(name: string, opts: LogOptions): Promise<AsyncIterable<LogLine>> {
    const row = await this.profiles.get(name);
    return this.ctx.drivers.for(row.tier).logs(specOf(this.ctx, row), opts);
  }

  /**
   * Ask a running profile a question through its own chat API, with its own key, as its user would: the operator's
   * end-to-end check (model, data service, cites). The key is read without following links and never leaves the
   * daemon; the port must be held by the profile alone. The question is not recorded, only that one was asked.
   */
  async ask(name: string, q: { question: string; session_id?: string | undefined }, actor: string, timeoutMs = 90_000) {
    const row = await this.profiles.get(name);
    if (row.status !== "running")
      throw new Precondition(`profile ${name} is ${row.status}, so it cannot answer`, { hint: `hermes-admin start ${name}` });
    const other = squatter(row.port, listenerUidOf(this.ctx, row));
    if (other)
      throw new Unavailable(`profile ${name} is not reachable: ${other}`, {
        hint: `hermes-admin health ${name}; hermes-admin restart ${name}`,
      });
    const key = (await readProfileEnv(row.profile_path, row.uid)).API_SERVER_KEY;
    if (!key)
      throw new Precondition(`profile ${name} has no API_SERVER_KEY in its .env`, {
        hint: `restore it from a backup (hermes-admin backups ${name}) or respawn the profile`,
      });
    await audit(this.ctx, { profile: row.name, actor, action: "ask", result: "info", detail: { chars: q.question.length } });
    const t0 = performance.now();
    let res: Response;
    try {
      res = await fetch(`http://127.0.0.1:${row.port}/v1/chat/completions`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${key}`,
          "content-type": "application/json",
          ...(q.session_id ? { "x-hermes-session-id": q.session_id } : {}),
        },
        body: JSON.stringify({ model: "hermes-agent", messages: [{ role: "user", content: q.question }] }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new Unavailable(`profile ${name} did not answer: ${(e as Error).message}`, {
        hint: `hermes-admin logs ${name} --tail 50; hermes-admin health ${name}`,
      });
    }
    const body = (await res.json().catch(() => ({}))) as ChatBody;
    if (!res.ok)
      throw new UpstreamError(`profile ${name}`, `HTTP ${res.status}: ${body.error?.message ?? "no error message"}`, {
        hint: `hermes-admin logs ${name} --tail 50`,
      });
    return {
      profile: row.name,
      session_id: body.session_id ?? res.headers.get("x-hermes-session-id") ?? "",
      answer: body.choices?.[0]?.message?.content ?? "",
      citations: (body.citations ?? []).map((c, i) => ({
        ref: c.ref ?? i + 1,
        source: c.cite?.source ?? "",
        api: c.cite?.api ?? "",
        as_of: c.cite?.as_of ?? "",
        request_id: c.cite?.request_id ?? "",
      })),
      model: body.model ?? "",
      ms: Math.round(performance.now() - t0),
    } satisfies AskAnswer;
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
      entry: agentEntry(this.ctx.cfg.appDir),
      appDir: this.ctx.cfg.appDir,
      path: env.PATH as string,
      sandbox: sandboxSpec({ plan: row.plan, dir: row.profile_path }),
    });
  }
}
