/**
 * Server-sent events, as OpenAI streams chat completions: `data: {json}\n\n` events ending with `data: [DONE]`. The
 * splitter hands back whole events as they complete (so the gateway forwards each one at once, token by token) and
 * reads the usage the upstream reports in its last chunk (`stream_options.include_usage`).
 */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

export function usageOf(x: unknown): Usage | undefined {
  const u = (x as { usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } } | null)?.usage;
  if (!u || typeof u.prompt_tokens !== "number" || typeof u.completion_tokens !== "number") return undefined;
  return { prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens };
}

export interface SseEvent {
  /** The event's raw text including its terminating blank line, forwarded as is. */
  raw: string;
  data: string;
}

export class SseSplitter {
  private buf = "";
  usage: Usage | undefined;
  /** Content deltas seen (a fallback count when the upstream reports no usage). */
  deltas = 0;

  push(chunk: string): SseEvent[] {
    this.buf += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.buf);
      if (!m) break;
      const raw = this.buf.slice(0, m.index + m[0].length);
      this.buf = this.buf.slice(m.index + m[0].length);
      const data = raw
        .split(/\r?\n/)
        .filter((l) => l.startsWith("data:"))
        .map((l) => l.slice(5).trimStart())
        .join("\n");
      if (data && data !== "[DONE]") this.inspect(data);
      out.push({ raw, data });
    }
    return out;
  }

  /** Whatever is left at the end of the stream (an unterminated last event). */
  rest(): string {
    const r = this.buf;
    this.buf = "";
    return r;
  }

  private inspect(data: string): void {
    let j: unknown;
    try {
      j = JSON.parse(data);
    } catch {
      return;
    }
    const u = usageOf(j);
    if (u) this.usage = u;
    const c = (j as { choices?: { delta?: { content?: unknown } }[] }).choices;
    if (Array.isArray(c) && c.some((x) => typeof x?.delta?.content === "string" && x.delta.content)) this.deltas++;
  }
}

/** The usage-only chunk the gateway asked for on the caller's behalf (no choices, a usage object). */
export function isUsageOnly(data: string): boolean {
  if (!data.includes('"usage"')) return false;
  try {
    const j = JSON.parse(data) as { choices?: unknown[]; usage?: unknown };
    return Array.isArray(j.choices) && j.choices.length === 0 && j.usage != null;
  } catch {
    return false;
  }
}
