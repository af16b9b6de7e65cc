/**
 * MCP over Streamable HTTP at /mcp, stateless (a fresh McpServer and transport per POST, as the SDK's stateless
 * example does), so any spec-following client works and a restart loses nothing. The bearer token says which profile
 * calls; every tool result is a signed {data, cite} envelope for that profile; every tool call is recorded.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import {
  bearerToken,
  CiteSchema,
  type CiteSigningKey,
  DomainError,
  type Logger,
  readJson,
  signEnvelope,
  ToolData,
  Unauthorized,
} from "@twilight/core";
import { z } from "zod";
import { type Clock, shanghaiParts } from "../clock.js";
import type { Metrics } from "../metrics.js";
import type { RequestLog } from "../requestLog.js";
import type { Scheduler } from "../scheduler/scheduler.js";
import { answerTool, TOOL_DESCRIPTIONS, TOOL_INPUTS, TOOL_NAMES, type ToolName } from "../tools.js";
import type { Warehouse } from "../warehouse/db.js";

export const CITE_SOURCE = "tushare";
export const SERVER_INFO = { name: "twilight-mcp-tushare", version: "0.1.0" };

export interface McpDeps {
  wh: Warehouse;
  /** The key that signs now (the key set can rotate while the service runs). */
  signingKey: () => CiteSigningKey;
  requestLog: RequestLog;
  metrics: Metrics;
  log: Logger;
  clock: Clock;
  /** Maps a bearer token to the calling profile, or undefined. */
  identify: (token: string | undefined) => string | undefined;
  /** While its first backfill runs, every answer says the warehouse is still filling. */
  scheduler?: Scheduler | undefined;
}

/** `_meta` key of the warehouse's state on a tool result given while seeding (informational, outside the signature). */
export const WAREHOUSE_META = "twilight/warehouse";

interface PendingCall {
  tool: string;
  params: unknown;
  handled: boolean;
}

function errorText(e: unknown): string {
  if (e instanceof DomainError) return `${e.message}${e.hint ? ` (hint: ${e.hint})` : ""}`;
  return "internal error; see the data service log";
}

/** An McpServer of one profile, reused for its later requests; `ctx` is the request it serves now (one at a time). */
interface Pooled {
  server: McpServer;
  ctx: { pending: Map<unknown, PendingCall> };
}

/**
 * Idle servers per profile. Building an McpServer (five tools, their schemas) was about half the server's time per
 * call; a server is reused only for the same profile (it keeps what the client said at initialize), one request at a
 * time, and only after its transport closed.
 */
const POOLS = new WeakMap<McpDeps, Map<string, Pooled[]>>();
const IDLE_PER_PROFILE = 4;

function buildPooled(deps: McpDeps, profile: string): Pooled {
  const server = new McpServer(SERVER_INFO, { capabilities: { tools: {} } });
  const p: Pooled = { server, ctx: { pending: new Map() } };
  for (const name of TOOL_NAMES) {
    const outputSchema = z.object({ data: ToolData[name] as z.ZodTypeAny, cite: CiteSchema });
    server.registerTool(
      name,
      { ...TOOL_DESCRIPTIONS[name], inputSchema: TOOL_INPUTS[name], outputSchema, annotations: { readOnlyHint: true } },
      async (args: unknown, extra: { requestId: unknown }) => {
        const call = p.ctx.pending.get(extra.requestId);
        if (call) call.handled = true;
        return callTool(deps, { name, args, profile });
      },
    );
  }
  return p;
}

function takeServer(deps: McpDeps, profile: string): Pooled {
  return POOLS.get(deps)?.get(profile)?.pop() ?? buildPooled(deps, profile);
}

function giveBack(deps: McpDeps, profile: string, p: Pooled): void {
  if (p.server.server.transport) return; // still connected (the client left before it was): not reusable
  const byProfile = POOLS.get(deps) ?? new Map<string, Pooled[]>();
  POOLS.set(deps, byProfile);
  const idle = byProfile.get(profile) ?? [];
  if (idle.length < IDLE_PER_PROFILE) idle.push(p);
  byProfile.set(profile, idle);
}

async function callTool(deps: McpDeps, c: { name: ToolName; args: unknown; profile: string }) {
  const t0 = performance.now();
  const request_id = randomUUID();
  const nowMs = deps.clock.now();
  const done = (ok: boolean, error: string | null) => {
    const duration_ms = performance.now() - t0;
    deps.metrics.toolCalls.inc({ tool: c.name, outcome: ok ? "ok" : "error" });
    deps.metrics.toolDuration.observe({ tool: c.name }, duration_ms / 1000);
    deps.requestLog.record({
      at: new Date(nowMs).toISOString(),
      profile: c.profile,
      tool: c.name,
      params: c.args,
      request_id,
      ok,
      error,
      duration_ms,
    });
  };
  try {
    const a = await answerTool(deps.wh, c.name, c.args, shanghaiParts(nowMs).date);
    const env = signEnvelope(
      a.data,
      {
        source: CITE_SOURCE,
        api: a.api,
        params: a.params,
        as_of: a.as_of,
        retrieved_at: new Date(nowMs).toISOString(),
        profile: c.profile,
        request_id,
      },
      deps.signingKey(),
    );
    done(true, null);
    const seeding = deps.scheduler?.seeding();
    if (seeding?.state === "seeding") {
      const of = seeding.days_total === null ? "" : ` (${seeding.days_done} of ${seeding.days_total} days in)`;
      const note = `the warehouse is still being seeded${of}; this answer is as of ${a.as_of} and newer data may be missing`;
      return {
        content: [
          { type: "text" as const, text: JSON.stringify(env) },
          { type: "text" as const, text: `note: ${note}` },
        ],
        structuredContent: env as unknown as Record<string, unknown>,
        _meta: { [WAREHOUSE_META]: { ...seeding, as_of: a.as_of, note } },
      };
    }
    return {
      content: [{ type: "text" as const, text: JSON.stringify(env) }],
      structuredContent: env as unknown as Record<string, unknown>,
    };
  } catch (e) {
    if (!(e instanceof DomainError)) deps.log.error({ err: e, tool: c.name, request_id }, "tool call failed unexpectedly");
    const text = `${errorText(e)} [request_id ${request_id}]`;
    done(false, errorText(e));
    return { content: [{ type: "text" as const, text }], isError: true };
  }
}

/** The /mcp endpoint. POST carries JSON-RPC; GET and DELETE get 405 (stateless: no standalone stream, no session). */
export async function handleMcp(deps: McpDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const profile = deps.identify(bearerToken(req));
  if (!profile) {
    deps.metrics.authFailures.inc({ route: "/mcp" });
    throw new Unauthorized("missing or unknown bearer token", "use the MCP token the fleet issued to this profile");
  }
  if (req.method !== "POST") {
    res.writeHead(405, { allow: "POST", "content-type": "application/json" });
    res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed." }, id: null }));
    return;
  }
  const body = await readJson(req, 1 << 20);
  const pending = new Map<unknown, PendingCall>();
  for (const m of Array.isArray(body) ? body : [body]) {
    const msg = m as { method?: unknown; id?: unknown; params?: { name?: unknown; arguments?: unknown } };
    if (msg?.method === "tools/call" && msg.id !== undefined)
      pending.set(msg.id, { tool: String(msg.params?.name ?? ""), params: msg.params?.arguments ?? {}, handled: false });
  }
  const pooled = takeServer(deps, profile);
  pooled.ctx.pending = pending;
  const server = pooled.server;
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on("close", () => {
    void transport
      .close()
      .then(() => server.close())
      .then(
        () => giveBack(deps, profile, pooled),
        () => undefined, // a server that did not close cleanly is dropped, never reused
      );
    for (const p of pending.values()) {
      if (p.handled) continue;
      deps.metrics.toolCalls.inc({ tool: (TOOL_NAMES as string[]).includes(p.tool) ? p.tool : "unknown", outcome: "rejected" });
      deps.requestLog.record({
        at: new Date(deps.clock.now()).toISOString(),
        profile,
        tool: p.tool.slice(0, 80),
        params: p.params,
        request_id: randomUUID(),
        ok: false,
        error: "rejected before the tool ran (unknown tool or invalid arguments)",
        duration_ms: 0,
      });
    }
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}
