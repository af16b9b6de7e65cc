/**
 * A small MCP client for the Streamable HTTP transport (spec revisions 2024-11-05 .. 2025-11-25), covering what the
 * profile runtime uses: initialize, tools/list, tools/call, cancellation, session ids and DELETE on close.
 *
 * Why not the SDK's Client: the profile runtime is the unit of density. Loading the SDK client (and the zod schemas it
 * validates every message with) costs ~11 MiB of heap and ~29 MiB of RSS in every profile that has answered one
 * question (measured with agent/dist/bench/chat-latency.js), which alone broke the 80 MiB-after-load goal of issue 13.
 * This client validates only the fields it reads. The data service and the test servers still use the official SDK
 * server, and agent/src/mcp-client.int.test.ts runs this client against it in every mode it can answer in (JSON or
 * SSE bodies, with and without sessions).
 *
 * Wire facts (spec "Transports > Streamable HTTP"): every client message is a POST of one JSON-RPC message with
 * `Accept: application/json, text/event-stream`; a request is answered either by one JSON body or by an SSE stream
 * whose `message` events carry JSON-RPC messages, one of them our response; a notification is answered 202. The
 * server may assign `Mcp-Session-Id` on the initialize response; the client echoes it, and a 404 on a request that
 * carries it means the session is gone (re-initialize). After initialize the client sends `MCP-Protocol-Version`.
 */

import { nodeHttpFetch, TimeoutError } from "@twilight/core";

export const LATEST_PROTOCOL_VERSION = "2025-11-25";
export const SUPPORTED_PROTOCOL_VERSIONS = [LATEST_PROTOCOL_VERSION, "2025-06-18", "2025-03-26", "2024-11-05", "2024-10-07"];

export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** A JSON-RPC error object the server answered with (the request reached it; the connection is fine). */
export class McpRpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "McpRpcError";
  }
}

/** The transport failed: refused, reset, an HTTP error status, a session the server no longer knows, a broken body. */
export class McpTransportError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "McpTransportError";
  }
}

export interface McpTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

export interface McpCallResult {
  content?: Array<{ type?: string; text?: unknown } | null>;
  structuredContent?: unknown;
  isError?: boolean;
  _meta?: Record<string, unknown>;
}

export interface McpHttpClientOptions {
  url: string;
  /** Sent on every request (the profile's bearer token): never logged. */
  headers?: Record<string, string>;
  /** Default: node:http over TCP (`nodeHttpFetch`); `unixSocketFetch(path)` for a profile's data-service socket. */
  fetch?: FetchLike;
  clientInfo: { name: string; version: string };
}

interface JsonRpcMessage {
  jsonrpc: "2.0";
  id?: string | number | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export class McpHttpClient {
  private readonly fetch: FetchLike;
  private sessionId: string | undefined;
  private protocolVersion: string | undefined;
  private nextId = 0;
  private closed = false;

  constructor(private readonly opts: McpHttpClientOptions) {
    // node:http, not the global fetch (undici): ~10 MiB less RSS per profile (see core/src/unix-fetch.ts)
    this.fetch = opts.fetch ?? nodeHttpFetch();
  }

  /** The version both sides speak, once connected. */
  get negotiatedVersion(): string | undefined {
    return this.protocolVersion;
  }

  /** The initialize handshake: offer the latest version, accept any we support, then say `initialized`. */
  async connect(timeoutMs: number): Promise<void> {
    const r = (await this.request(
      "initialize",
      { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: this.opts.clientInfo },
      timeoutMs,
    )) as { protocolVersion?: unknown } | undefined;
    const version = r?.protocolVersion;
    if (typeof version !== "string" || !SUPPORTED_PROTOCOL_VERSIONS.includes(version))
      throw new McpTransportError(`the server speaks MCP protocol version ${String(version)}, which this client does not`);
    this.protocolVersion = version;
    await this.notify("notifications/initialized", undefined, timeoutMs);
  }

  async listTools(timeoutMs: number): Promise<McpTool[]> {
    const tools: McpTool[] = [];
    let cursor: string | undefined;
    // bounded: a server that pages forever gets 100 pages
    for (let page = 0; page < 100; page++) {
      const r = (await this.request("tools/list", cursor ? { cursor } : {}, timeoutMs)) as {
        tools?: unknown;
        nextCursor?: unknown;
      };
      if (!Array.isArray(r?.tools)) throw new McpTransportError("tools/list answered without a tools array");
      for (const t of r.tools as McpTool[]) if (t && typeof t.name === "string") tools.push(t);
      if (typeof r.nextCursor !== "string" || r.nextCursor === "") break;
      cursor = r.nextCursor;
    }
    return tools;
  }

  async callTool(name: string, args: Record<string, unknown>, timeoutMs: number): Promise<McpCallResult> {
    const r = (await this.request("tools/call", { name, arguments: args }, timeoutMs)) as McpCallResult | undefined;
    if (!r || typeof r !== "object") throw new McpTransportError("tools/call answered without a result object");
    return r;
  }

  /** End the session: DELETE it when the server gave one (a 405 means the server does not allow that; fine). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.sessionId) return;
    const ctl = AbortSignal.timeout(2_000);
    await this.fetch(this.opts.url, { method: "DELETE", headers: this.headers(false), signal: ctl })
      .then((res) => res.body?.cancel())
      .catch(() => undefined);
  }

  private headers(post: boolean): Record<string, string> {
    const h: Record<string, string> = { ...this.opts.headers };
    if (post) {
      h["content-type"] = "application/json";
      h.accept = "application/json, text/event-stream";
    }
    if (this.sessionId) h["mcp-session-id"] = this.sessionId;
    if (this.protocolVersion) h["mcp-protocol-version"] = this.protocolVersion;
    return h;
  }

  private async notify(method: string, params: unknown, timeoutMs: number): Promise<void> {
    const res = await this.post({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) }, timeoutMs);
    await res.body?.cancel();
  }

  /** One request, one response; a timeout cancels it on the server too (notifications/cancelled). */
  async request(method: string, params: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closed) throw new McpTransportError("the MCP client is closed");
    const id = ++this.nextId;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(new TimeoutError(`MCP ${method} took longer than ${timeoutMs} ms`)), timeoutMs);
    try {
      const res = await this.post({ jsonrpc: "2.0", id, method, params }, timeoutMs, ctl.signal);
      if (method === "initialize") this.sessionId = res.headers.get("mcp-session-id") ?? undefined;
      const msg = await this.responseOf(res, id, ctl.signal);
      if (msg.error) throw new McpRpcError(msg.error.code, msg.error.message, msg.error.data);
      return msg.result;
    } catch (e) {
      if (ctl.signal.aborted) {
        if (method !== "initialize")
          void this.notify("notifications/cancelled", { requestId: id, reason: "timeout" }, 2_000).catch(() => undefined);
        throw ctl.signal.reason;
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private async post(message: JsonRpcMessage, timeoutMs: number, signal?: AbortSignal): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetch(this.opts.url, {
        method: "POST",
        headers: this.headers(true),
        body: JSON.stringify(message),
        signal: signal ?? AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      throw new McpTransportError(`POST ${message.method} failed: ${(e as Error).message}`, undefined, { cause: e });
    }
    if (res.ok) return res;
    const body = await res.text().catch(() => "");
    if (res.status === 404 && this.sessionId) {
      this.sessionId = undefined;
      throw new McpTransportError(`the server no longer knows this MCP session (404 on ${message.method})`, 404);
    }
    throw new McpTransportError(`${message.method}: HTTP ${res.status} ${detailOf(body)}`.trim(), res.status);
  }

  /** The JSON-RPC response with `id`, from a JSON body or from the SSE stream the server chose. */
  private async responseOf(res: Response, id: number, signal: AbortSignal): Promise<JsonRpcMessage> {
    const type = res.headers.get("content-type") ?? "";
    if (type.includes("text/event-stream")) return this.fromEventStream(res, id, signal);
    if (!type.includes("application/json")) {
      await res.body?.cancel();
      throw new McpTransportError(`unexpected response content type "${type}" (status ${res.status})`);
    }
    let parsed: unknown;
    try {
      parsed = await res.json();
    } catch (e) {
      if (signal.aborted) throw e;
      throw new McpTransportError(`the server's JSON body did not parse: ${(e as Error).message}`, undefined, { cause: e });
    }
    const found = (Array.isArray(parsed) ? parsed : [parsed]).find((m) => isResponseTo(m, id));
    if (!found) throw new McpTransportError(`the server's answer holds no response to request ${id}`);
    return found;
  }

  private async fromEventStream(res: Response, id: number, signal: AbortSignal): Promise<JsonRpcMessage> {
    const body = res.body;
    if (!body) throw new McpTransportError("an SSE response without a body");
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    try {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (signal.aborted) throw e;
          throw new McpTransportError(`the SSE stream broke: ${(e as Error).message}`, undefined, { cause: e });
        }
        if (chunk.done) throw new McpTransportError(`the SSE stream ended before the response to request ${id}`);
        for (const ev of parser.push(chunk.value)) {
          if (ev.event !== "message" || ev.data === "") continue;
          let m: unknown;
          try {
            m = JSON.parse(ev.data);
          } catch {
            continue; // not a JSON-RPC message; the spec allows nothing else, so skip it
          }
          if (isResponseTo(m, id)) return m;
          // notifications and server requests: this client declares no capabilities, so there is nothing to do
        }
      }
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }
}

function isResponseTo(m: unknown, id: number): m is JsonRpcMessage {
  if (!m || typeof m !== "object") return false;
  const r = m as JsonRpcMessage;
  return r.id === id && r.method === undefined && ("result" in r || "error" in r);
}

/** A JSON-RPC error message out of an HTTP error body, or its first 200 characters. */
function detailOf(body: string): string {
  try {
    const m = JSON.parse(body) as JsonRpcMessage;
    if (m?.error?.message) return `(${m.error.code}: ${m.error.message})`;
  } catch {
    // not JSON
  }
  return body.slice(0, 200);
}

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** Server-Sent Events framing (WHATWG HTML "event stream interpretation"), fed text chunks as they arrive. */
export class SseParser {
  private buffer = "";
  private data: string[] = [];
  private event = "";
  private id: string | undefined;

  push(text: string): SseEvent[] {
    this.buffer += text;
    const out: SseEvent[] = [];
    for (;;) {
      const nl = this.buffer.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      // a lone \r at the end of a chunk may be the first half of \r\n: wait for the next chunk
      if (this.buffer[nl] === "\r" && nl === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + (this.buffer.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (this.data.length > 0)
          out.push({ event: this.event || "message", data: this.data.join("\n"), ...(this.id ? { id: this.id } : {}) });
        this.data = [];
        this.event = "";
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.data.push(value);
      else if (field === "event") this.event = value;
      else if (field === "id" && !value.includes("\0")) this.id = value;
    }
    return out;
  }
}
