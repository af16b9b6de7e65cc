/** A caller of one profile through the front door, as a paying user's client would be: its API key, a session header. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Cite, parseEnv } from "@twilight/core";

export interface ChatAnswer {
  status: number;
  sessionId: string;
  content: string;
  citations: Array<{ cite?: Cite } & Record<string, unknown>>;
  ms: number;
  error?: string;
}

export class ProfileClient {
  readonly apiKey: string;
  constructor(
    readonly name: string,
    readonly baseUrl: string,
    profilePath: string,
  ) {
    // The operator's tool runs on the host as root and reads the key from the profile's .env; it is never printed.
    this.apiKey = parseEnv(readFileSync(join(profilePath, ".env"), "utf8")).API_SERVER_KEY ?? "";
  }

  private url(path: string): string {
    return `${this.baseUrl}/p/${this.name}${path}`;
  }

  async chat(text: string, sessionId?: string, timeoutMs = 30_000): Promise<ChatAnswer> {
    const t0 = performance.now();
    try {
      const res = await fetch(this.url("/v1/chat/completions"), {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.apiKey}`,
          "content-type": "application/json",
          ...(sessionId ? { "x-hermes-session-id": sessionId } : {}),
        },
        body: JSON.stringify({ model: "hermes-agent", messages: [{ role: "user", content: text }] }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = (await res.json().catch(() => ({}))) as {
        session_id?: string;
        citations?: ChatAnswer["citations"];
        choices?: Array<{ message?: { content?: string } }>;
        error?: { message?: string };
      };
      return {
        status: res.status,
        sessionId: body.session_id ?? res.headers.get("x-hermes-session-id") ?? "",
        content: body.choices?.[0]?.message?.content ?? "",
        citations: body.citations ?? [],
        ms: performance.now() - t0,
        error: res.ok ? undefined : (body.error?.message ?? `HTTP ${res.status}`),
      };
    } catch (e) {
      return {
        status: 0,
        sessionId: sessionId ?? "",
        content: "",
        citations: [],
        ms: performance.now() - t0,
        error: (e as Error).message,
      };
    }
  }

  async session(id: string): Promise<{ messages: Array<{ role: string; content: string }> } | undefined> {
    const res = await fetch(this.url(`/api/sessions/${encodeURIComponent(id)}`), {
      headers: { authorization: `Bearer ${this.apiKey}` },
    });
    if (!res.ok) return undefined;
    return (await res.json()) as { messages: Array<{ role: string; content: string }> };
  }

  async sessions(): Promise<Array<{ id: string }>> {
    const res = await fetch(this.url("/api/sessions?limit=1000"), { headers: { authorization: `Bearer ${this.apiKey}` } });
    const body = (await res.json().catch(() => ({}))) as { sessions?: Array<{ id: string }>; data?: Array<{ id: string }> };
    return body.sessions ?? body.data ?? [];
  }

  /** A cheap authenticated request, for steady background load. */
  async ping(timeoutMs = 10_000): Promise<{ ok: boolean; ms: number; status: number }> {
    const t0 = performance.now();
    try {
      const res = await fetch(this.url("/v1/models"), {
        headers: { authorization: `Bearer ${this.apiKey}` },
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      return { ok: res.ok, ms: performance.now() - t0, status: res.status };
    } catch {
      return { ok: false, ms: performance.now() - t0, status: 0 };
    }
  }
}

/** Steady request load (`rps` per second) until stopped; counts failures and the slowest request. Bounded by `maxMs`. */
export function steadyLoad(client: ProfileClient, rps: number, maxMs = 120_000) {
  const results: Array<{ ok: boolean; ms: number; status: number }> = [];
  const pending: Array<Promise<void>> = [];
  const t0 = Date.now();
  const timer = setInterval(() => {
    if (Date.now() - t0 > maxMs) return clearInterval(timer);
    pending.push(client.ping().then((r) => void results.push(r)));
  }, 1000 / rps);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      const failed = results.filter((r) => !r.ok);
      return {
        sent: results.length,
        failed: failed.length,
        maxMs: Math.max(0, ...results.map((r) => r.ms)),
        statuses: failed.map((f) => f.status),
      };
    },
  };
}
