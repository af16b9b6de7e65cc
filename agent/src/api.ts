/**
 * The profile API routes behind the bearer key: OpenAI-compatible chat completions (JSON and SSE), models, sessions.
 * Session continuity: `X-Hermes-Session-Id` (or `X-Session-Id`) names the conversation; without it a new session is
 * made and its id returned in the same header and in `session_id`. For an existing session the stored history is the
 * context and only the request's last user message is new (a client may keep sending its whole transcript).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { DomainError, InputInvalid, type Logger, NotFound, Router, readJson, requireBearer, sendJson } from "@twilight/core";
import { z } from "zod";
import type { Agent, ChatOutput } from "./agent.js";
import type { ChatMessage } from "./model/types.js";
import { type ConversationStore, SESSION_ID_RE } from "./store.js";

const ContentPart = z.object({ type: z.string(), text: z.string().optional() }).passthrough();
const RequestMessage = z
  .object({
    role: z.enum(["system", "developer", "user", "assistant", "tool"]),
    content: z.union([z.string().max(32_000), z.array(ContentPart).max(64), z.null()]).optional(),
  })
  .passthrough();
export const ChatRequest = z
  .object({
    model: z.string().max(200).optional(),
    messages: z.array(RequestMessage).min(1, "messages must hold at least one message").max(200),
    stream: z.boolean().optional(),
  })
  .passthrough();

export interface ApiDeps {
  apiKey: string;
  agent: Agent;
  store: ConversationStore;
  modelId: string;
  maxBodyBytes: number;
  log: Logger;
}

function textOf(content: z.infer<typeof RequestMessage>["content"]): string {
  if (typeof content === "string") return content;
  if (!content) return "";
  return content
    .filter((p) => p.type === "text" && typeof p.text === "string")
    .map((p) => p.text)
    .join("\n");
}

/** Client messages kept as conversation: user and assistant text. System prompts come from the profile only. */
export function conversationOf(req: z.infer<typeof ChatRequest>): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const m of req.messages) {
    if (m.role !== "user" && m.role !== "assistant") continue;
    const text = textOf(m.content);
    if (m.role === "user" && !text.trim()) throw new InputInvalid("a user message has no text content");
    out.push({ role: m.role, content: text });
  }
  if (out[out.length - 1]?.role !== "user")
    throw new InputInvalid("the last conversational message must have role 'user'", { hint: "append the user's question" });
  return out;
}

export function sessionHeader(req: IncomingMessage): string | undefined {
  const raw = req.headers["x-hermes-session-id"] ?? req.headers["x-session-id"];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined || v === "") return undefined;
  if (!SESSION_ID_RE.test(v))
    throw new InputInvalid("session id header is invalid", {
      hint: "use 1-128 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit",
    });
  return v;
}

function completionBody(out: ChatOutput, id: string, created: number) {
  return {
    id,
    object: "chat.completion",
    created,
    model: out.model,
    choices: [{ index: 0, message: { role: "assistant", content: out.content }, finish_reason: "stop" }],
    usage: out.usage,
    session_id: out.sessionId,
    citations: out.citations,
  };
}

export function buildApiRouter(deps: ApiDeps): Router {
  const r = new Router();
  const auth = (req: IncomingMessage) => requireBearer(req, deps.apiKey);

  r.on("GET", "/v1/models", (req, res) => {
    auth(req);
    sendJson(res, 200, { object: "list", data: [{ id: deps.modelId, object: "model", created: 0, owned_by: "twilight" }] });
  });

  r.on("POST", "/v1/chat/completions", async (req, res) => {
    auth(req);
    const body = await readJson(req, deps.maxBodyBytes);
    const parsed = ChatRequest.safeParse(body);
    if (!parsed.success)
      throw new InputInvalid(
        `invalid chat request: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ")}`,
      );
    const messages = conversationOf(parsed.data);
    const sessionId = sessionHeader(req);
    const id = `chatcmpl-${randomUUID().replace(/-/g, "")}`;
    const created = Math.floor(Date.now() / 1000);
    if (!parsed.data.stream) {
      const out = await deps.agent.chat({ messages, ...(sessionId ? { sessionId } : {}) });
      res.setHeader("x-hermes-session-id", out.sessionId);
      sendJson(res, 200, completionBody(out, id, created));
      return;
    }
    await streamChat({ res, deps, id, created, messages, sessionId });
  });

  r.on("GET", "/api/sessions", (req, res, _p, url) => {
    auth(req);
    const limit = clampInt(url.searchParams.get("limit"), 50, 1, 500);
    const offset = clampInt(url.searchParams.get("offset"), 0, 0, 1_000_000);
    const data = deps.store.listSessions({ limit, offset });
    sendJson(res, 200, { object: "list", total: deps.store.countSessions(), limit, offset, data });
  });

  r.on("GET", "/api/sessions/:id", (req, res, p) => {
    auth(req);
    const id = p.id as string;
    const s = SESSION_ID_RE.test(id) ? deps.store.getSession(id) : undefined;
    if (!s) throw new NotFound("session", id.slice(0, 128), "list sessions with GET /api/sessions");
    sendJson(res, 200, { ...s, messages: deps.store.history(id) });
  });
  return r;
}

function clampInt(v: string | null, dflt: number, min: number, max: number): number {
  if (v === null || v === "") return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InputInvalid(`query value ${JSON.stringify(v)} must be an integer in [${min}, ${max}]`);
  return n;
}

interface StreamOptions {
  res: ServerResponse;
  deps: ApiDeps;
  id: string;
  created: number;
  messages: ChatMessage[];
  sessionId: string | undefined;
}

/** SSE in OpenAI's chunk format; the last chunk carries finish_reason, session_id and citations, then `[DONE]`. */
async function streamChat(o: StreamOptions): Promise<void> {
  const { res, deps, id, created } = o;
  const sessionId = o.sessionId ?? `sess_${randomUUID().replace(/-/g, "")}`;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    connection: "keep-alive",
    "x-hermes-session-id": sessionId,
  });
  // a client that went away does not stop the turn (it is still stored whole); writes to it are dropped
  const send = (obj: unknown) => {
    if (!res.destroyed && !res.writableEnded) res.write(`data: ${JSON.stringify(obj)}\n\n`);
  };
  const chunk = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}, finish: string | null = null) =>
    send({
      id,
      object: "chat.completion.chunk",
      created,
      model: deps.modelId,
      choices: [{ index: 0, delta, finish_reason: finish }],
      ...extra,
    });
  chunk({ role: "assistant", content: "" });
  try {
    const out = await deps.agent.chat({ sessionId, messages: o.messages, onDelta: (t) => chunk({ content: t }) });
    chunk({}, { usage: out.usage, session_id: out.sessionId, citations: out.citations }, "stop");
  } catch (e) {
    const err = e instanceof DomainError ? e : new DomainError("INTERNAL", "internal error; see the service log");
    if (!(e instanceof DomainError)) deps.log.error({ err: e }, "chat stream failed");
    send({ error: err.toJSON() });
  }
  if (!res.destroyed) res.end("data: [DONE]\n\n");
}
