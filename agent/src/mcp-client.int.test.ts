/**
 * Our MCP client (mcp-client.ts) against the official SDK server, in every way that server can answer: JSON bodies or
 * SSE streams, with sessions (stateful) or without. If the SDK server and our client ever disagree on the wire, this
 * fails before a profile does.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { TimeoutError } from "@twilight/core";
import { z } from "zod";
import { LATEST_PROTOCOL_VERSION, McpHttpClient, McpRpcError, McpTransportError } from "./mcp-client.js";

interface Seen {
  method: string;
  auth?: string;
  version?: string;
  session?: string;
}

/** An SDK MCP server with three tools; `stateful` gives sessions, `json` chooses JSON bodies over SSE. */
class SdkServer {
  readonly seen: Seen[] = [];
  readonly cancelled: string[] = [];
  readonly sessions = new Map<string, StreamableHTTPServerTransport>();
  private http: Server | null = null;
  port = 0;
  constructor(
    private readonly stateful: boolean,
    private readonly json: boolean,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/mcp`;
  }

  private mcp(): McpServer {
    const s = new McpServer({ name: "sdk-test", version: "0.0.1" }, { capabilities: { logging: {} } });
    s.registerTool("echo", { description: "echo", inputSchema: { text: z.string() } }, async (a, extra) => {
      // a progress notification first, so an SSE answer carries more than the response
      await extra.sendNotification({ method: "notifications/message", params: { level: "info", data: "echoing" } });
      return { content: [{ type: "text", text: a.text }], structuredContent: { echoed: a.text }, _meta: { k: 1 } };
    });
    s.registerTool("fail", { description: "fails", inputSchema: {} }, async () => {
      throw new Error("it broke");
    });
    s.registerTool("slow", { description: "slow", inputSchema: { ms: z.number() } }, async (a, extra) => {
      await new Promise<void>((r) => {
        const t = setTimeout(r, a.ms);
        extra.signal.addEventListener("abort", () => {
          clearTimeout(t);
          this.cancelled.push(String(extra.requestId));
          r();
        });
      });
      return { content: [{ type: "text", text: "done" }] };
    });
    return s;
  }

  async start(): Promise<void> {
    this.http = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.http?.listen(0, "127.0.0.1", () => r()));
    this.port = (this.http.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const t of this.sessions.values()) await t.close();
    this.http?.closeAllConnections();
    await new Promise<void>((r) => this.http?.close(() => r()));
  }

  /** Forget every session, as a restarted server would. */
  async forgetSessions(): Promise<void> {
    for (const t of [...this.sessions.values()]) await t.close();
    this.sessions.clear();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown;
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      const m = body as { method?: string; params?: { requestId?: unknown } };
      this.seen.push({
        method: m.method ?? "(response)",
        auth: req.headers.authorization,
        version: req.headers["mcp-protocol-version"] as string | undefined,
        session: req.headers["mcp-session-id"] as string | undefined,
      });
    } else this.seen.push({ method: req.method ?? "?", session: req.headers["mcp-session-id"] as string | undefined });
    const sid = req.headers["mcp-session-id"];
    if (this.stateful && typeof sid === "string") {
      const t = this.sessions.get(sid);
      if (!t) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null }));
        return;
      }
      return t.handleRequest(req, res, body);
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: this.stateful ? () => randomUUID() : undefined,
      enableJsonResponse: this.json,
      onsessioninitialized: (id) => {
        this.sessions.set(id, transport);
      },
      onsessionclosed: (id) => {
        this.sessions.delete(id);
      },
    });
    if (!this.stateful) res.on("close", () => void transport.close());
    await this.mcp().connect(transport);
    await transport.handleRequest(req, res, body);
  }
}

for (const stateful of [true, false])
  for (const json of [true, false]) {
    const mode = `${stateful ? "stateful" : "stateless"}, ${json ? "JSON" : "SSE"} bodies`;
    describe(`our MCP client against the SDK server (${mode})`, () => {
      const server = new SdkServer(stateful, json);
      let client: McpHttpClient;
      before(async () => {
        await server.start();
        client = new McpHttpClient({
          url: server.url,
          headers: { Authorization: "Bearer tmcp_x" },
          clientInfo: { name: "test", version: "0" },
        });
        await client.connect(2_000);
      });
      after(async () => {
        await client.close();
        await server.stop();
      });

      it("negotiates the latest protocol version and sends it, the token and the session on later requests", async () => {
        assert.equal(client.negotiatedVersion, LATEST_PROTOCOL_VERSION);
        await client.listTools(2_000);
        const init = server.seen.find((s) => s.method === "initialize");
        const list = server.seen.findLast((s) => s.method === "tools/list");
        assert.equal(init?.version, undefined);
        assert.equal(init?.auth, "Bearer tmcp_x");
        assert.equal(list?.version, LATEST_PROTOCOL_VERSION);
        assert.equal(list?.auth, "Bearer tmcp_x");
        assert.ok(server.seen.some((s) => s.method === "notifications/initialized"));
        if (stateful) assert.ok(list?.session && server.sessions.has(list.session));
        else assert.equal(list?.session, undefined);
      });

      it("lists tools with their input schemas", async () => {
        const tools = await client.listTools(2_000);
        assert.deepEqual(tools.map((t) => t.name).sort(), ["echo", "fail", "slow"]);
        const echo = tools.find((t) => t.name === "echo");
        assert.deepEqual(Object.keys(echo?.inputSchema.properties as object), ["text"]);
      });

      it("calls a tool and returns content, structured content and _meta (past a notification on SSE)", async () => {
        const r = await client.callTool("echo", { text: "你好 600519" }, 2_000);
        assert.deepEqual(r.content, [{ type: "text", text: "你好 600519" }]);
        assert.deepEqual(r.structuredContent, { echoed: "你好 600519" });
        assert.deepEqual(r._meta, { k: 1 });
        assert.notEqual(r.isError, true);
      });

      it("gives a tool's exception as an isError result and bad arguments as isError or a JSON-RPC error", async () => {
        const r = await client.callTool("fail", {}, 2_000);
        assert.equal(r.isError, true);
        const bad = await client.callTool("echo", { text: 5 }, 2_000).catch((e: unknown) => e);
        if (bad instanceof McpRpcError) assert.equal(bad.code, -32602);
        else assert.equal((bad as { isError?: boolean }).isError, true);
      });

      it("answers a JSON-RPC error as McpRpcError with its code", async () => {
        const e = await client.request("no/such/method", {}, 2_000).catch((x: unknown) => x);
        assert.ok(e instanceof McpRpcError, String(e));
        assert.equal(e.code, -32601);
      });

      it("times out a slow call, and tells the server to cancel it", async () => {
        const e = await client.callTool("slow", { ms: 5_000 }, 300).catch((x: unknown) => x);
        assert.ok(e instanceof TimeoutError, String(e));
        if (stateful) {
          // a stateless server cannot route the cancellation to the request's transport; a stateful one does
          for (let i = 0; i < 50 && server.cancelled.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
          assert.equal(server.cancelled.length, 1);
        }
        const r = await client.callTool("echo", { text: "still here" }, 2_000);
        assert.equal(r.structuredContent && (r.structuredContent as { echoed: string }).echoed, "still here");
      });

      if (stateful) {
        it("reports a forgotten session as a 404 transport error, and a new client works again", async () => {
          await server.forgetSessions();
          const e = await client.callTool("echo", { text: "x" }, 2_000).catch((x: unknown) => x);
          assert.ok(e instanceof McpTransportError, String(e));
          assert.equal(e.status, 404);
          const again = new McpHttpClient({ url: server.url, clientInfo: { name: "t", version: "0" } });
          await again.connect(2_000);
          const r = await again.callTool("echo", { text: "y" }, 2_000);
          assert.deepEqual(r.structuredContent, { echoed: "y" });
          const sid = server.seen.findLast((s) => s.method === "tools/call")?.session;
          await again.close();
          assert.ok(sid && !server.sessions.has(sid), "close DELETEs the session");
          assert.equal(server.seen.at(-1)?.method, "DELETE");
        });
      }
    });
  }

describe("our MCP client against servers that misbehave", () => {
  let http: Server;
  let answer: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  let url = "";
  before(async () => {
    http = createServer((req, res) => answer(req, res));
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
    url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
  });
  after(async () => {
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
  });
  const client = () => new McpHttpClient({ url, clientInfo: { name: "t", version: "0" } });

  it("refuses a protocol version it does not speak", async () => {
    answer = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: { protocolVersion: "1999-01-01", capabilities: {} } }));
    };
    await assert.rejects(client().connect(1_000), /1999-01-01/);
  });

  it("says which status an HTTP error had, with the JSON-RPC message in its body", async () => {
    answer = (_req, res) => {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32001, message: "unknown token" } }));
    };
    const e = await client()
      .connect(1_000)
      .catch((x: unknown) => x);
    assert.ok(e instanceof McpTransportError);
    assert.equal(e.status, 401);
    assert.match(e.message, /HTTP 401 \(-32001: unknown token\)/);
  });

  it("fails, not hangs, when an SSE stream ends without the response", async () => {
    answer = (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.end('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{}}\n\n');
    };
    await assert.rejects(client().connect(1_000), /ended before the response/);
  });

  it("times out a server that never answers", async () => {
    answer = () => undefined; // holds the request open
    const t0 = Date.now();
    await assert.rejects(client().connect(300), TimeoutError);
    assert.ok(Date.now() - t0 < 2_000);
  });

  it("names a refused connection as a transport error", async () => {
    const c = new McpHttpClient({ url: "http://127.0.0.1:9/mcp", clientInfo: { name: "t", version: "0" } });
    await assert.rejects(c.connect(1_000), McpTransportError);
  });
});
