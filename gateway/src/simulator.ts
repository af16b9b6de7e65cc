/**
 * An OpenAI-protocol upstream for tests and demos (it stands in for SiliconFlow, which this machine cannot reach):
 * `POST /v1/chat/completions` (JSON, or SSE one word per chunk, with `usage` in the JSON answer and, when
 * `stream_options.include_usage`, in a last usage-only chunk), `GET /v1/models`, bearer auth with its own key.
 * Control: `POST /sim/fail {status, count, retry_after?}` makes the next `count` requests fail; `GET /sim/stats` is its
 * own count of requests and tokens (what metering must match); latency and per-token delay are options.
 * Tokens: one per whitespace-separated word of every message (prompt) and of the answer (completion).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface SimOptions {
  apiKey: string;
  host?: string;
  port?: number;
  /** Before the first byte of every answer. */
  latencyMs?: number;
  /** Between streamed chunks. */
  tokenDelayMs?: number;
  /** A request whose last message contains "[slow]" waits this long before answering (a long generation). */
  slowMs?: number;
  /** Words of the answer (default 12). */
  answerWords?: number;
}

export interface SimStats {
  requests: number;
  answered: number;
  failed: number;
  prompt_tokens: number;
  completion_tokens: number;
}

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;
const sleep = (ms: number) => (ms > 0 ? new Promise<void>((r) => setTimeout(r, ms)) : Promise.resolve());

function contentText(c: unknown): string {
  if (typeof c === "string") return c;
  if (Array.isArray(c)) return c.map((p) => (typeof p?.text === "string" ? p.text : "")).join(" ");
  return "";
}

export class UpstreamSimulator {
  readonly stats: SimStats = { requests: 0, answered: 0, failed: 0, prompt_tokens: 0, completion_tokens: 0 };
  private failures: { status: number; retryAfter?: number }[] = [];
  private server: Server | undefined;
  url = "";

  constructor(readonly o: SimOptions) {}

  /** The next `count` chat requests answer `status` (with Retry-After when given). */
  fail(status: number, count: number, retryAfter?: number): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, retryAfter });
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    });
    this.server.keepAliveTimeout = 65_000;
    await new Promise<void>((r) => this.server?.listen(this.o.port ?? 0, this.o.host ?? "127.0.0.1", r));
    const a = this.server.address() as AddressInfo;
    this.url = `http://${this.o.host ?? "127.0.0.1"}:${a.port}/v1`;
    return this.url;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    });
  }

  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const t = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(t), ...headers });
    res.end(t);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    if (url.pathname === "/sim/stats") return this.json(res, 200, this.stats);
    if (url.pathname === "/sim/fail" && req.method === "POST") {
      const b = JSON.parse(raw || "{}") as { status?: number; count?: number; retry_after?: number };
      this.fail(b.status ?? 500, b.count ?? 1, b.retry_after);
      return this.json(res, 200, { queued: this.failures.length });
    }
    if (req.headers.authorization !== `Bearer ${this.o.apiKey}`)
      return this.json(res, 401, {
        error: { message: "Invalid API key", type: "invalid_request_error", code: "invalid_api_key" },
      });
    if (url.pathname === "/v1/models" && req.method === "GET")
      return this.json(res, 200, { object: "list", data: [{ id: "sim-model", object: "model", created: 0, owned_by: "sim" }] });
    if (url.pathname !== "/v1/chat/completions" || req.method !== "POST")
      return this.json(res, 404, { error: { message: "not found", type: "invalid_request_error" } });
    this.stats.requests++;
    const f = this.failures.shift();
    if (f) {
      this.stats.failed++;
      return this.json(
        res,
        f.status,
        { error: { message: `simulated ${f.status}`, type: f.status === 429 ? "rate_limit_exceeded" : "server_error" } },
        f.retryAfter !== undefined ? { "retry-after": String(f.retryAfter) } : {},
      );
    }
    const body = JSON.parse(raw) as {
      model: string;
      messages?: { content?: unknown }[];
      stream?: boolean;
      max_tokens?: number;
      stream_options?: { include_usage?: boolean };
    };
    const msgs = body.messages ?? [];
    const prompt = msgs.reduce((a, m) => a + words(contentText(m.content)), 0);
    const last = contentText(msgs[msgs.length - 1]?.content)
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 6)
      .join(" ");
    let answer =
      `Simulated answer about ${last || "nothing"}: ${Array.from({ length: this.o.answerWords ?? 12 }, (_, i) => `w${i}`).join(" ")}`
        .split(" ")
        .filter(Boolean);
    if (body.max_tokens && body.max_tokens > 0) answer = answer.slice(0, body.max_tokens);
    const usage = { prompt_tokens: prompt, completion_tokens: answer.length, total_tokens: prompt + answer.length };
    this.stats.answered++;
    this.stats.prompt_tokens += prompt;
    this.stats.completion_tokens += answer.length;
    await sleep(
      (this.o.latencyMs ?? 0) + (contentText(msgs[msgs.length - 1]?.content).includes("[slow]") ? (this.o.slowMs ?? 0) : 0),
    );
    const id = `chatcmpl-sim${this.stats.requests}`;
    const created = Math.floor(Date.now() / 1000);
    if (!body.stream) {
      return this.json(res, 200, {
        id,
        object: "chat.completion",
        created,
        model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: answer.join(" ") }, finish_reason: "stop" }],
        usage,
      });
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const send = (o: unknown) => res.write(`data: ${JSON.stringify(o)}\n\n`);
    const chunk = (delta: unknown, finish: string | null) => ({
      id,
      object: "chat.completion.chunk",
      created,
      model: body.model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    send(chunk({ role: "assistant", content: "" }, null));
    for (let i = 0; i < answer.length; i++) {
      if (i > 0) await sleep(this.o.tokenDelayMs ?? 0);
      send(chunk({ content: i === 0 ? answer[i] : ` ${answer[i]}` }, null));
    }
    send(chunk({}, "stop"));
    if (body.stream_options?.include_usage)
      send({ id, object: "chat.completion.chunk", created, model: body.model, choices: [], usage });
    res.end("data: [DONE]\n\n");
  }
}
