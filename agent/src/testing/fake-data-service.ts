/**
 * TEST SUPPORT: a small stand-in for the data service (contract 4 of the brief) built on the real MCP SDK server, so
 * the agent's MCP client, reconnects and cite gate run against a real Streamable HTTP endpoint. It signs real cite
 * envelopes and can be told to misbehave (`mode`): tamper with data, sign for another profile, sign with an unknown
 * key, or drop the cite. Sessions are stateful, so a restart really invalidates the client's session id.
 * Integration tests prefer the real service (mcp/tushare/dist/main.js) when it is built; see realDataService().
 */
import { randomUUID } from "node:crypto";
import { chmodSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import {
  type CiteBinding,
  type CiteSigningKey,
  citeBinding,
  DailyPricesInput,
  FundamentalsInput,
  generateSigningKey,
  LatestPriceInput,
  normalizeStockCode,
  type PublicCiteKey,
  publicCiteKey,
  SearchStocksInput,
  signEnvelope,
  TOOLS,
} from "@twilight/core";
import { z } from "zod";
import { BARS, FUNDAMENTALS, STOCKS } from "./fixture.js";

/** `replay`: answer with the last good envelope this service issued to the same profile (for whatever call it was). */
export type FakeMode = "ok" | "tamper" | "foreign" | "unknown_key" | "no_cite" | "replay";

export interface FakeCall {
  profile: string;
  tool: string;
  args: Record<string, unknown>;
}

const Output = { data: z.any(), cite: z.object({}).passthrough().optional() };

export class FakeDataService {
  readonly key: CiteSigningKey = generateSigningKey();
  private readonly rogueKey = generateSigningKey();
  mode: FakeMode = "ok";
  /** Modes consumed one per tool call before `mode` applies. */
  readonly queue: FakeMode[] = [];
  readonly calls: FakeCall[] = [];
  private http: Server | null = null;
  private socketServer: Server | null = null;
  private sessions = new Map<string, { transport: StreamableHTTPServerTransport; profile: string }>();
  private readonly lastGood = new Map<string, unknown>();
  port = 0;

  constructor(private readonly tokens: Record<string, string>) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  /** The keys a profile pins for this service (what the fleet writes into the profile's keys file). */
  pinnedKeys(): PublicCiteKey[] {
    return [publicCiteKey(this.key)];
  }

  get keysUrl(): string {
    return `http://127.0.0.1:${this.port}/.well-known/cite-keys`;
  }

  async start(port = this.port): Promise<void> {
    this.http = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.http?.listen(port, "127.0.0.1", () => r()));
    this.port = (this.http.address() as AddressInfo).port;
  }

  /** Also serve on a unix socket (mode 0666), as the real service does with MCP_SOCKET_PATH. */
  async listenSocket(path: string): Promise<void> {
    const s = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => s.listen(path, () => r()));
    chmodSync(path, 0o666);
    this.socketServer = s;
  }

  /** Stop serving and forget every MCP session (a restart keeps the port and the key). */
  async stop(): Promise<void> {
    const sock = this.socketServer;
    this.socketServer = null;
    if (sock) {
      sock.closeAllConnections();
      await new Promise<void>((r) => sock.close(() => r()));
    }
    for (const s of this.sessions.values()) await s.transport.close().catch(() => undefined);
    this.sessions.clear();
    const h = this.http;
    this.http = null;
    if (h) {
      h.closeAllConnections();
      await new Promise<void>((r) => h.close(() => r()));
    }
  }

  private envelope(profile: string, call: CiteBinding, data: unknown, asOf: string) {
    const mode = this.queue.shift() ?? this.mode;
    const previous = this.lastGood.get(profile);
    if (mode === "replay" && previous) return previous;
    const meta = {
      source: "tushare",
      api: call.api,
      params: call.params,
      as_of: asOf,
      retrieved_at: new Date().toISOString(),
      profile: mode === "foreign" ? `${profile}-other` : profile,
      request_id: randomUUID(),
    };
    const env = signEnvelope(data, meta, mode === "unknown_key" ? this.rogueKey : this.key);
    if (mode === "tamper") (env.data as { close?: number }).close = 1.23;
    if (mode === "no_cite") return { data: env.data };
    if (mode === "ok") this.lastGood.set(profile, env);
    return env;
  }

  private result(env: unknown) {
    return { content: [{ type: "text" as const, text: JSON.stringify(env) }], structuredContent: env as Record<string, unknown> };
  }

  private error(message: string) {
    return { isError: true, content: [{ type: "text" as const, text: message }] };
  }

  private mcpFor(profile: string): McpServer {
    const s = new McpServer({ name: "fake-tushare", version: "0.0.1" });
    const record = (tool: string, args: Record<string, unknown>) => this.calls.push({ profile, tool, args });
    s.registerTool(
      TOOLS.latestPrice,
      { description: "latest close", inputSchema: LatestPriceInput.shape, outputSchema: Output },
      async (a) => {
        record(TOOLS.latestPrice, a);
        const code = normalizeStockCode(a.ts_code);
        const bar = BARS.filter((b) => b.ts_code === code && (!a.as_of || b.trade_date <= a.as_of)).at(-1);
        if (!bar) return this.error(`no daily data for ${code}`);
        return this.result(this.envelope(profile, citeBinding(TOOLS.latestPrice, a), { ...bar }, bar.trade_date));
      },
    );
    s.registerTool(
      TOOLS.dailyPrices,
      { description: "daily bars", inputSchema: DailyPricesInput.shape, outputSchema: Output },
      async (a) => {
        record(TOOLS.dailyPrices, a);
        const code = normalizeStockCode(a.ts_code);
        const rows = BARS.filter((b) => b.ts_code === code).reverse();
        const last = rows[0]?.trade_date ?? "20000101";
        return this.result(this.envelope(profile, citeBinding(TOOLS.dailyPrices, a), { ts_code: code, rows }, last));
      },
    );
    s.registerTool(
      TOOLS.fundamentals,
      { description: "fina_indicator", inputSchema: FundamentalsInput.shape, outputSchema: Output },
      async (a) => {
        record(TOOLS.fundamentals, a);
        const code = normalizeStockCode(a.ts_code);
        const f = FUNDAMENTALS.filter((x) => x.ts_code === code && (!a.period || x.end_date === a.period)).at(-1);
        if (!f) return this.error(`no fundamentals for ${code}${a.period ? ` period ${a.period}` : ""}`);
        return this.result(this.envelope(profile, citeBinding(TOOLS.fundamentals, a), { ...f }, f.end_date));
      },
    );
    s.registerTool(
      TOOLS.searchStocks,
      { description: "find a stock by name or code", inputSchema: SearchStocksInput.shape, outputSchema: Output },
      async (a) => {
        record(TOOLS.searchStocks, a);
        const q = a.query.toLowerCase();
        const rows = STOCKS.filter(
          (x) => x.name.includes(a.query) || x.ts_code.toLowerCase().includes(q) || x.symbol.includes(q),
        );
        return this.result(this.envelope(profile, citeBinding(TOOLS.searchStocks, a), { query: a.query, rows }, "20251231"));
      },
    );
    return s;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === "/.well-known/cite-keys") return json(200, { keys: [publicCiteKey(this.key)] });
    if (url.pathname !== "/mcp") return json(404, { error: "not found" });
    const token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const profile = token ? this.tokens[token] : undefined;
    if (!profile) return json(401, { error: "unknown token" });
    const sid = req.headers["mcp-session-id"];
    let body: unknown;
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
    }
    if (typeof sid === "string") {
      const s = this.sessions.get(sid);
      if (!s || s.profile !== profile)
        return json(404, { jsonrpc: "2.0", error: { code: -32001, message: "session not found" }, id: null });
      return s.transport.handleRequest(req, res, body);
    }
    if (req.method !== "POST" || !isInitializeRequest(body))
      return json(400, { jsonrpc: "2.0", error: { code: -32000, message: "no session" }, id: null });
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        this.sessions.set(id, { transport, profile });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) this.sessions.delete(transport.sessionId);
    };
    await this.mcpFor(profile).connect(transport);
    await transport.handleRequest(req, res, body);
  }
}
