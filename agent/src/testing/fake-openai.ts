/**
 * TEST SUPPORT: a local server speaking the OpenAI chat-completions protocol (JSON and SSE streaming, tool calls), so
 * the `custom` model path runs over real HTTP through the real `openai` SDK. Every request body is recorded: tests
 * assert on exactly what the model received. `brain` decides each reply; `delayMs` stalls a reply to force a timeout.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface OpenAiMessage {
  role: string;
  content: string | null;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

export interface OpenAiRequest {
  model: string;
  messages: OpenAiMessage[];
  tools?: { type: string; function: { name: string } }[];
  stream?: boolean;
}

export interface Reply {
  content?: string;
  toolCalls?: { name: string; arguments: Record<string, unknown> }[];
  delayMs?: number;
  status?: number;
}

export type Brain = (req: OpenAiRequest) => Reply;

/**
 * A scripted "model" that behaves like a tool-using LLM: on a user message with a six-digit code it calls the price
 * tool; on tool results it answers quoting the close and the ref; otherwise it echoes what it was told.
 */
export const scriptedBrain: Brain = (req) => {
  const last = req.messages.at(-1);
  if (last?.role === "tool") {
    const p = JSON.parse(last.content ?? "{}") as { ref?: number; data?: { ts_code?: string; close?: number }; error?: string };
    if (p.error) return { content: `The data could not be used (${p.error}).` };
    return { content: `${p.data?.ts_code} closed at ${p.data?.close} [${p.ref}].` };
  }
  const code = /\b(\d{6})\b/.exec(last?.content ?? "")?.[1];
  const tool = req.tools?.find((t) => t.function.name.endsWith("__get_latest_price"))?.function.name;
  if (code && tool) return { toolCalls: [{ name: tool, arguments: { ts_code: code } }] };
  return { content: `You said: ${last?.content ?? ""}` };
};

export class FakeOpenAi {
  readonly requests: OpenAiRequest[] = [];
  brain: Brain = scriptedBrain;
  delayMs = 0;
  private http: Server | null = null;
  private n = 0;

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.http?.address() as AddressInfo).port}/v1`;
  }

  async start(): Promise<void> {
    this.http = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.http?.listen(0, "127.0.0.1", () => r()));
  }

  async stop(): Promise<void> {
    const h = this.http;
    if (!h) return;
    h.closeAllConnections();
    await new Promise<void>((r) => h.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === "GET" && req.url?.endsWith("/models")) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ object: "list", data: [{ id: "fake-qwen", object: "model" }] }));
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OpenAiRequest;
    this.requests.push(body);
    const reply = this.brain(body);
    const delay = reply.delayMs ?? this.delayMs;
    if (delay) await new Promise((r) => setTimeout(r, delay));
    if (res.destroyed) return;
    if (reply.status) {
      res.writeHead(reply.status, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: "scripted failure", type: "server_error" } }));
      return;
    }
    const id = `chatcmpl-fake-${++this.n}`;
    const toolCalls = (reply.toolCalls ?? []).map((t, i) => ({
      id: `call_fake_${this.n}_${i}`,
      type: "function",
      function: { name: t.name, arguments: JSON.stringify(t.arguments) },
    }));
    const finish = toolCalls.length ? "tool_calls" : "stop";
    if (!body.stream) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          id,
          object: "chat.completion",
          created: 1,
          model: body.model,
          choices: [
            {
              index: 0,
              message: {
                role: "assistant",
                content: reply.content ?? null,
                ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
              },
              finish_reason: finish,
            },
          ],
          usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
        }),
      );
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream" });
    const send = (delta: Record<string, unknown>, finishReason: string | null = null) =>
      res.write(
        `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finishReason }] })}\n\n`,
      );
    send({ role: "assistant", content: "" });
    for (const piece of (reply.content ?? "").match(/.{1,8}/gs) ?? []) send({ content: piece });
    toolCalls.forEach((t, index) => {
      const args = t.function.arguments;
      const half = Math.floor(args.length / 2);
      send({
        tool_calls: [{ index, id: t.id, type: "function", function: { name: t.function.name, arguments: args.slice(0, half) } }],
      });
      send({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] });
    });
    send({}, finish);
    res.end("data: [DONE]\n\n");
  }
}
