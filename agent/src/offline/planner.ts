/**
 * `model.provider: offline` - a deterministic, rule-based planner. IT IS A STAND-IN, NOT AN LLM: it exists so a
 * profile with no model service still answers price and fundamentals questions (English or Chinese, by code or by
 * name) with cited figures. It sees exactly what a real model would see (the messages of this session and the tools on
 * offer), calls the same MCP tools through the same loop, and only ever states figures from verified tool results.
 *
 * One step: (1) no tool results yet in this turn -> plan tool calls (search_stocks for an unknown name, then
 * get_latest_price / get_fundamentals); (2) results in -> follow up a name search, or write the answer.
 */
import { type DailyBar, type Fundamentals, TOOLS } from "@twilight/core";
import type { ChatMessage, ChatModel, ModelStep, ModelStepRequest, ToolCall } from "../model/types.js";
import type { ToolSpec } from "../tools.js";
import { type Cited, fundamentalsAnswer, HELP, priceAnswer, type SeedingNote, seedingNote, text } from "./answer.js";
import { type Intent, nameOf, parseRequest } from "./intent.js";

export const OFFLINE_MODEL_ID = "twilight-offline";

/** What the runtime puts in a tool message (see agent.ts toolMessageContent). */
interface ToolPayload {
  ref?: number;
  /** Present while the data service's warehouse is still being seeded. */
  warehouse?: SeedingNote;
  data?: unknown;
  error?: string;
  reason?: string;
  message?: string;
}

interface Resolved extends Intent {
  name?: string;
}

export class OfflinePlanner implements ChatModel {
  readonly id = OFFLINE_MODEL_ID;

  async step(req: ModelStepRequest): Promise<ModelStep> {
    const step = plan(req.messages, req.tools);
    if (req.onDelta && step.content) for (const piece of chunks(step.content)) req.onDelta(piece);
    return step;
  }
}

function* chunks(s: string): Generator<string> {
  const parts = s.split(/(?<=[.。\n])/);
  for (const p of parts) if (p) yield p;
}

function lastUserIndex(messages: ChatMessage[]): number {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]?.role === "user") return i;
  return -1;
}

function parseArgs(c: ToolCall): Record<string, unknown> {
  try {
    return JSON.parse(c.function.arguments) as Record<string, unknown>;
  } catch {
    return {};
  }
}

function payload(m: ChatMessage): ToolPayload {
  try {
    return JSON.parse(m.content ?? "") as ToolPayload;
  } catch {
    return { error: "tool_error", message: m.content ?? "" };
  }
}

/** Resolve follow-ups ("and its fundamentals for 2024?") from earlier messages of THIS conversation only. */
function resolve(messages: ChatMessage[], userIdx: number): Resolved {
  const cur: Resolved = parseRequest(messages[userIdx]?.content ?? "");
  const explicitIntent = cur.price || cur.fundamentals;
  let prev: Intent | undefined;
  let prevCode: string | undefined;
  for (let i = userIdx - 1; i >= 0 && (!prev || !prevCode); i--) {
    const m = messages[i] as ChatMessage;
    if (!prevCode && m.role === "assistant")
      for (const c of m.tool_calls ?? []) {
        const code = parseArgs(c).ts_code;
        if (typeof code === "string") prevCode = code;
      }
    if (m.role === "user") {
      const p = parseRequest(m.content ?? "");
      if (!prev && (p.price || p.fundamentals)) prev = p;
      if (!prevCode && p.code) prevCode = p.code;
    }
  }
  if (!cur.code && !cur.query && prevCode) cur.code = prevCode;
  if (!explicitIntent && prev) {
    cur.price = prev.price;
    cur.fundamentals = prev.fundamentals;
    if (!cur.asOf && prev.asOf) cur.asOf = prev.asOf;
    if (!cur.period && prev.period) cur.period = prev.period;
  }
  if (!cur.price && !cur.fundamentals && (cur.code || cur.query)) cur.price = true;
  if (cur.code) {
    const n = nameOf(cur.code);
    if (n) cur.name = n;
  }
  return cur;
}

function toolName(tools: ToolSpec[], bare: string): string | undefined {
  const suffix = `__${bare}`;
  return (tools.find((t) => t.name === `mcp__tushare${suffix}`) ?? tools.find((t) => t.name.endsWith(suffix)))?.name;
}

function answer(content: string): ModelStep {
  return { content, toolCalls: [] };
}

function dataCalls(intent: Resolved, code: string, tools: ToolSpec[], round: number): ModelStep {
  const calls: ToolCall[] = [];
  const add = (bare: string, args: Record<string, unknown>) => {
    const name = toolName(tools, bare);
    if (name)
      calls.push({ id: `call_${round}_${calls.length}`, type: "function", function: { name, arguments: JSON.stringify(args) } });
  };
  if (intent.price) add(TOOLS.latestPrice, { ts_code: code, ...(intent.asOf ? { as_of: intent.asOf } : {}) });
  if (intent.fundamentals) add(TOOLS.fundamentals, { ts_code: code, ...(intent.period ? { period: intent.period } : {}) });
  if (!calls.length)
    return answer(
      text(
        intent.lang,
        "The market-data tools are not available right now; please try again shortly.",
        "行情数据工具暂时不可用，请稍后再试。",
      ),
    );
  return { content: null, toolCalls: calls };
}

export function plan(messages: ChatMessage[], tools: ToolSpec[]): ModelStep {
  const userIdx = lastUserIndex(messages);
  if (userIdx < 0) return answer(HELP.en);
  const intent = resolve(messages, userIdx);
  const after = messages.slice(userIdx + 1);
  const rounds = after.filter((m) => m.role === "assistant" && m.tool_calls?.length).length;
  const results = new Map<string, { tool: string; args: Record<string, unknown>; p: ToolPayload }>();
  for (const m of after)
    if (m.role === "assistant")
      for (const c of m.tool_calls ?? []) results.set(c.id, { tool: c.function.name, args: parseArgs(c), p: {} });
  for (const m of after)
    if (m.role === "tool" && m.tool_call_id && results.has(m.tool_call_id))
      (results.get(m.tool_call_id) as { p: ToolPayload }).p = payload(m);

  if (rounds === 0) {
    if (intent.code) return dataCalls(intent, intent.code, tools, 1);
    if (intent.query) {
      const name = toolName(tools, TOOLS.searchStocks);
      if (name)
        return {
          content: null,
          toolCalls: [
            { id: "call_1_0", type: "function", function: { name, arguments: JSON.stringify({ query: intent.query }) } },
          ],
        };
    }
    return answer(HELP[intent.lang]);
  }

  const all = [...results.values()];
  const search = all.find((r) => r.tool.endsWith(`__${TOOLS.searchStocks}`));
  const data = all.filter((r) => r !== search);
  if (search && data.length === 0) {
    if (search.p.error) return answer(failure(intent, search.p));
    const rows = ((search.p.data as { rows?: { ts_code: string; name: string }[] } | undefined)?.rows ?? []).slice(0, 1);
    const hit = rows[0];
    if (!hit)
      return answer(
        text(intent.lang, `No A-share stock matches "${intent.query}".`, `没有找到与“${intent.query}”匹配的 A 股股票。`),
      );
    intent.name = hit.name;
    return dataCalls(intent, hit.ts_code, tools, rounds + 1);
  }
  if (search && !search.p.error) {
    const hit = (search.p.data as { rows?: { name: string }[] } | undefined)?.rows?.[0];
    if (hit) intent.name = hit.name;
  }
  const parts: string[] = [];
  for (const r of data) {
    if (r.p.error || r.p.ref === undefined) {
      parts.push(failure(intent, r.p));
      continue;
    }
    if (r.tool.endsWith(`__${TOOLS.latestPrice}`)) {
      const asked = typeof r.args.as_of === "string" ? r.args.as_of : undefined;
      parts.push(priceAnswer(r.p as Cited<DailyBar>, intent.name, intent.lang, asked) + seedingNote(r.p.warehouse, intent.lang));
    } else if (r.tool.endsWith(`__${TOOLS.fundamentals}`))
      parts.push(
        fundamentalsAnswer(r.p as Cited<Fundamentals>, intent.name, intent.lang) + seedingNote(r.p.warehouse, intent.lang),
      );
  }
  return answer(parts.join("\n\n") || HELP[intent.lang]);
}

function failure(intent: Intent, p: ToolPayload): string {
  if (p.error === "cite_refused")
    return text(
      intent.lang,
      `A result was refused because its cite did not verify (${p.reason}); I do not state that figure.`,
      `一条数据的来源签名未通过验证（${p.reason}），该数据不予采用。`,
    );
  return text(
    intent.lang,
    `The data service could not answer: ${p.message ?? "unknown error"}`,
    `数据服务未能返回结果：${p.message ?? "未知错误"}`,
  );
}
