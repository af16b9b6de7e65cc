/**
 * MCP client side: one connection per enabled `mcp_servers` entry (Streamable HTTP, our own small client in
 * mcp-client.ts: the SDK's Client cost ~29 MiB of RSS per profile). Connections are made lazily and remade after a
 * transport failure, so a data-service restart costs one retried call, not a restart of the profile. Headers (the
 * profile's bearer token) come from config.yaml after `${VAR}` resolution and are never logged.
 */

import { type Logger, Unavailable, unixSocketFetch } from "@twilight/core";
import { McpHttpClient, McpRpcError } from "./mcp-client.js";
import type { McpServerConfig } from "./profile.js";
import { qualifyTool, splitToolName, type ToolResult, type ToolSource, type ToolSpec } from "./tools.js";

/** Pauses before each reconnect attempt of a failed call. */
const RETRY_DELAYS_MS = [0, 100, 400];

const CLIENT_INFO = { name: "twilight-agent", version: "0.1.0" };

/** JSON-RPC errors that say "your request was wrong", not "the connection is gone": never retried. */
const REQUEST_ERRORS = new Set<number>([-32602, -32600, -32601]); // InvalidParams, InvalidRequest, MethodNotFound

export interface McpConnectionOptions {
  name: string;
  config: McpServerConfig;
  log: Logger;
}

export class McpConnection {
  private client: McpHttpClient | null = null;
  private connecting: Promise<McpHttpClient> | null = null;
  private tools: ToolSpec[] = [];
  private generation = 0;

  constructor(private readonly opts: McpConnectionOptions) {}

  get name(): string {
    return this.opts.name;
  }

  private async connect(): Promise<McpHttpClient> {
    const { config, name, log } = this.opts;
    const client = new McpHttpClient({
      url: config.url,
      headers: config.headers,
      clientInfo: CLIENT_INFO,
      ...(config.socket ? { fetch: unixSocketFetch(config.socket) } : {}),
    });
    try {
      await client.connect(config.connect_timeout * 1000);
      const listed = await client.listTools(config.timeout * 1000);
      this.tools = listed
        .filter((t) => this.allowed(t.name))
        .map((t) => ({
          name: qualifyTool(name, t.name),
          description: t.description ?? t.title ?? t.name,
          parameters: t.inputSchema,
        }));
    } catch (e) {
      await client.close();
      throw e;
    }
    this.generation++;
    log.info(
      { server: name, url: config.url, socket: config.socket, tools: this.tools.length, connection: this.generation },
      "MCP server connected",
    );
    return client;
  }

  private allowed(tool: string): boolean {
    const f = this.opts.config.tools;
    if (f?.include && !f.include.includes(tool)) return false;
    return !f?.exclude?.includes(tool);
  }

  async ensure(): Promise<McpHttpClient> {
    if (this.client) return this.client;
    this.connecting ??= this.connect()
      .then((c) => {
        this.client = c;
        return c;
      })
      .finally(() => {
        this.connecting = null;
      });
    return this.connecting;
  }

  /** Drop the current connection; the next call reconnects. */
  async reset(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c) await c.close();
  }

  async list(): Promise<ToolSpec[]> {
    await this.ensure();
    return this.tools;
  }

  /**
   * Call a tool. A transport failure (refused connection, a pooled socket the restarted server closed, an expired
   * session) drops the connection and tries again with a fresh one, up to RETRY_DELAYS_MS.length more times.
   */
  async call(tool: string, args: Record<string, unknown>): Promise<ToolResult> {
    const timeoutMs = this.opts.config.timeout * 1000;
    for (let attempt = 0; ; attempt++) {
      try {
        const client = await this.ensure();
        const r = await client.callTool(tool, args, timeoutMs);
        const content = Array.isArray(r.content) ? r.content : [];
        const text = content
          .filter((c): c is { type: "text"; text: string } => c?.type === "text" && typeof c.text === "string")
          .map((c) => c.text)
          .join("\n");
        const meta = r._meta && typeof r._meta === "object" ? (r._meta as Record<string, unknown>) : undefined;
        return { isError: r.isError === true, text, structured: r.structuredContent, ...(meta ? { meta } : {}) };
      } catch (e) {
        if (e instanceof McpRpcError && REQUEST_ERRORS.has(e.code)) return { isError: true, text: e.message };
        await this.reset();
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined) {
          this.opts.log.warn({ server: this.name, tool, err: (e as Error).message }, "MCP call failed after reconnecting");
          throw new Unavailable(`MCP server ${this.name} is unreachable: ${(e as Error).message}`, { cause: e });
        }
        this.opts.log.info({ server: this.name, tool, err: (e as Error).message, attempt }, "MCP call failed; reconnecting");
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}

/** All configured MCP servers as one ToolSource. */
export class McpToolSource implements ToolSource {
  private readonly conns = new Map<string, McpConnection>();

  constructor(
    servers: Record<string, McpServerConfig>,
    private readonly log: Logger,
  ) {
    for (const [name, config] of Object.entries(servers)) {
      if (!config.enabled) continue;
      this.conns.set(name, new McpConnection({ name, config, log }));
    }
  }

  get servers(): string[] {
    return [...this.conns.keys()];
  }

  /** Connect everything now; failures are logged and retried lazily. The runtime no longer calls this at start. */
  async warm(): Promise<void> {
    await Promise.all(
      [...this.conns.values()].map((c) =>
        c.ensure().catch((e: Error) => this.log.warn({ server: c.name, err: e.message }, "MCP server not reachable yet")),
      ),
    );
  }

  async list(): Promise<ToolSpec[]> {
    const lists = await Promise.all(
      [...this.conns.values()].map((c) =>
        c.list().catch((e: Error) => {
          this.log.warn({ server: c.name, err: e.message }, "MCP server unavailable; its tools are not offered");
          return [] as ToolSpec[];
        }),
      ),
    );
    return lists.flat();
  }

  async call(name: string, args: Record<string, unknown>): Promise<ToolResult> {
    const split = splitToolName(name);
    const conn = split ? this.conns.get(split.server) : undefined;
    if (!split || !conn) return { isError: true, text: `unknown tool ${name}` };
    return conn.call(split.tool, args);
  }

  async close(): Promise<void> {
    await Promise.all([...this.conns.values()].map((c) => c.reset()));
  }
}
