/**
 * The conversation loop of one profile: load this session's history, ask the model for a step, run the tool calls it
 * makes (through the cite gate), repeat until it answers, and store the whole turn in one transaction. Turns of one
 * session are serialised; different sessions run in parallel. The model never sees an unverified datum.
 */
import { type Cite, InputInvalid, type Logger } from "@twilight/core";
import type { CheckedResult, CiteGuard } from "./cites.js";
import { KeyedLock } from "./lock.js";
import type { AgentMetrics } from "./metrics.js";
import type { ChatMessage, ChatModel, ToolCall } from "./model/types.js";
import { langOf } from "./offline/intent.js";
import { type ConversationStore, type NewMessage, newSessionId } from "./store.js";
import type { ToolSource, ToolSpec } from "./tools.js";

export interface Citation {
  ref: number;
  tool: string;
  data: unknown;
  cite: Cite;
}

export interface ChatInput {
  sessionId?: string;
  /** user/assistant messages from the request; for an existing session only the last user message is new. */
  messages: ChatMessage[];
  onDelta?: (text: string) => void;
}

export interface ChatOutput {
  sessionId: string;
  turn: number;
  content: string;
  citations: Citation[];
  model: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface AgentDeps {
  profile: string;
  store: ConversationStore;
  tools: ToolSource;
  guard: CiteGuard;
  model: ChatModel;
  systemPrompt: () => string;
  metrics: AgentMetrics;
  log: Logger;
  maxToolRounds: number;
  /** Rough character budget for the history given to the model. */
  contextChars: number;
}

const estimateTokens = (s: string) => Math.ceil(s.length / 3);

export class Agent {
  private readonly lock = new KeyedLock();

  constructor(private readonly deps: AgentDeps) {}

  async chat(input: ChatInput): Promise<ChatOutput> {
    const sessionId = input.sessionId ?? newSessionId();
    const { metrics, profile } = this.deps;
    const stop = metrics.duration.startTimer({ profile });
    try {
      return await this.lock.run(sessionId, () => this.turn(sessionId, input));
    } finally {
      metrics.queries.inc({ profile });
      stop();
    }
  }

  private async turn(sessionId: string, input: ChatInput): Promise<ChatOutput> {
    const { store, model, log } = this.deps;
    const existing = store.getSession(sessionId);
    const history: ChatMessage[] = existing ? store.history(sessionId).map(plain) : [];
    const incoming = existing ? [lastUser(input.messages)] : input.messages;
    if (incoming[incoming.length - 1]?.role !== "user") throw new InputInvalid("the last message must have role 'user'");
    const system: ChatMessage = { role: "system", content: this.deps.systemPrompt() };
    const modelInput: ChatMessage[] = [system, ...fitContext([...history, ...incoming], this.deps.contextChars)];
    const turnMsgs: NewMessage[] = [];
    const citations: Citation[] = [];
    const usage = { prompt_tokens: 0, completion_tokens: 0 };
    const tools = await this.deps.tools.list();
    let final = "";
    for (let round = 0; round <= this.deps.maxToolRounds; round++) {
      const offer: ToolSpec[] = round < this.deps.maxToolRounds ? tools : [];
      const step = await model.step({ messages: modelInput, tools: offer, ...(input.onDelta ? { onDelta: input.onDelta } : {}) });
      usage.prompt_tokens += step.usage?.prompt_tokens ?? estimateTokens(JSON.stringify(modelInput));
      usage.completion_tokens += step.usage?.completion_tokens ?? estimateTokens(step.content ?? "");
      if (!step.toolCalls.length || !offer.length) {
        final = step.content ?? "";
        break;
      }
      const call: ChatMessage = { role: "assistant", content: step.content, tool_calls: step.toolCalls };
      modelInput.push(call);
      turnMsgs.push(call);
      const checked = await Promise.all(step.toolCalls.map((c) => this.runTool(c, offer)));
      step.toolCalls.forEach((c, i) => {
        const r = checked[i] as CheckedResult;
        let ref: number | undefined;
        if (r.kind === "verified") {
          ref = citations.length + 1;
          citations.push({ ref, tool: c.function.name, data: r.envelope.data, cite: r.envelope.cite });
        }
        const msg: ChatMessage = { role: "tool", tool_call_id: c.id, name: c.function.name, content: toolContent(r, ref) };
        modelInput.push(msg);
        turnMsgs.push(msg);
      });
    }
    const lang = langOf(lastUser(incoming).content ?? "");
    const sources = sourcesSection(citations, lang);
    if (sources) input.onDelta?.(sources);
    const content = final + sources;
    turnMsgs.push({ role: "assistant", content, ...(citations.length ? { citations } : {}) });
    const turn = store.appendTurn({ sessionId, model: model.id, messages: [...incoming, ...turnMsgs] });
    log.debug({ session: sessionId, turn, citations: citations.length }, "turn stored");
    return {
      sessionId,
      turn,
      content,
      citations,
      model: model.id,
      usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    };
  }

  private async runTool(c: ToolCall, offered: ToolSpec[]): Promise<CheckedResult> {
    const { tools, guard, metrics, profile, log } = this.deps;
    const name = c.function.name;
    const count = (outcome: string) => metrics.toolCalls.inc({ profile, tool: name, outcome });
    if (!offered.some((t) => t.name === name)) {
      count("unknown_tool");
      return { kind: "plain", isError: true, text: `no tool named ${name} is offered` };
    }
    let args: Record<string, unknown>;
    try {
      const parsed = JSON.parse(c.function.arguments || "{}") as unknown;
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("arguments must be a JSON object");
      args = parsed as Record<string, unknown>;
    } catch (e) {
      count("bad_arguments");
      return { kind: "plain", isError: true, text: `arguments are not a JSON object: ${(e as Error).message}` };
    }
    try {
      const checked = await guard.check(name, args, await tools.call(name, args));
      count(checked.kind === "refused" ? "cite_refused" : checked.kind === "plain" && checked.isError ? "error" : "ok");
      return checked;
    } catch (e) {
      count("unavailable");
      log.warn({ tool: name, err: (e as Error).message }, "tool call failed");
      return { kind: "plain", isError: true, text: (e as Error).message };
    }
  }
}

/** What the model sees for a tool result: verified data with its ref, or an error without any datum. */
export function toolContent(r: CheckedResult, ref: number | undefined): string {
  if (r.kind === "verified") {
    const c = r.envelope.cite;
    return JSON.stringify({
      ref,
      cite_verified: true,
      data: r.envelope.data,
      cite: { source: c.source, api: c.api, as_of: c.as_of, retrieved_at: c.retrieved_at, request_id: c.request_id },
      ...(r.warehouse ? { warehouse: r.warehouse } : {}),
    });
  }
  if (r.kind === "refused")
    return JSON.stringify({ error: "cite_refused", reason: r.reason, message: `${r.message}; the datum was withheld` });
  if (r.isError) return JSON.stringify({ error: "tool_error", message: r.text });
  return r.text;
}

export function sourcesSection(citations: Citation[], lang: "en" | "zh"): string {
  if (!citations.length) return "";
  const lines = citations.map((c) => {
    const p = c.cite.params;
    const subject = [p.ts_code, p.query, p.period, p.as_of].filter((v) => typeof v === "string" && v).join(" ");
    return `[${c.ref}] ${c.cite.source} ${c.cite.api}${subject ? ` ${subject}` : ""} · as of ${c.cite.as_of} · request ${c.cite.request_id}`;
  });
  return `\n\n${lang === "zh" ? "来源（已验证签名）" : "Sources (signatures verified)"}:\n${lines.join("\n")}`;
}

function plain(m: ChatMessage): ChatMessage {
  const out: ChatMessage = { role: m.role, content: m.content };
  if (m.tool_calls) out.tool_calls = m.tool_calls;
  if (m.tool_call_id) out.tool_call_id = m.tool_call_id;
  if (m.name && m.role === "tool") out.name = m.name;
  return out;
}

function lastUser(messages: ChatMessage[]): ChatMessage {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]?.role === "user") return messages[i] as ChatMessage;
  throw new InputInvalid("no message with role 'user' in the request");
}

/** Keep the newest messages within `budget` characters, starting at a user message (never mid tool exchange). */
export function fitContext(messages: ChatMessage[], budget: number): ChatMessage[] {
  let size = 0;
  let start = messages.length;
  for (let i = messages.length - 1; i >= 0; i--) {
    size += JSON.stringify(messages[i]).length;
    if (size > budget && start < messages.length) break;
    start = i;
  }
  while (start < messages.length - 1 && messages[start]?.role !== "user") start++;
  return messages.slice(start);
}
