/** The CLI's HTTP client of the daemon: admin token from its 0600 file, typed errors rebuilt from error bodies. */
import { readFileSync } from "node:fs";
import { DomainError, errorFromBody, Unavailable } from "@twilight/core";
import type { FleetConfig } from "../config.js";
import { readAdminToken } from "../daemon/admin-token.js";

export type ProgressLine = { step: string; ms: number; [k: string]: unknown };

export class FleetClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: () => string,
    private readonly actor = `cli:${process.env.SUDO_USER ?? process.env.USER ?? "root"}`,
  ) {}

  static fromConfig(cfg: FleetConfig): FleetClient {
    let url = `http://${cfg.api.host}:${cfg.api.port}`;
    try {
      url = (JSON.parse(readFileSync(cfg.pidFile, "utf8")) as { url: string }).url ?? url;
    } catch {
      /* daemon not started yet: the configured address */
    }
    return new FleetClient(url, () => readAdminToken(cfg.adminTokenFile));
  }

  private async fetch(path: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Response> {
    try {
      return await fetch(`${this.baseUrl}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${this.token()}`, "x-actor": this.actor, ...(init.headers ?? {}) },
        signal: init.signal ?? (init.timeoutMs ? AbortSignal.timeout(init.timeoutMs) : undefined),
      });
    } catch (e) {
      if (e instanceof DomainError) throw e;
      throw new Unavailable(`the fleet daemon at ${this.baseUrl} did not answer: ${(e as Error).cause ?? (e as Error).message}`, {
        hint: "start it with `hermes-admin up` (or check `hermes-admin up` output / ops/logs/fleet.log)",
      });
    }
  }

  async json<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const res = await this.fetch(path, {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: 120_000,
    });
    const parsed = await res.json().catch(() => undefined);
    if (!res.ok) throw errorFromBody(parsed, res.status);
    return parsed as T;
  }

  /** Run a command in a profile (see `hermes-admin exec`); output is collected. */
  async exec(name: string, argv: string[]): Promise<{ exit: number; stdout: string; stderr: string }> {
    let exit = 1;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    await this.stream(
      `/v1/profiles/${encodeURIComponent(name)}/exec`,
      (l) => {
        const f = JSON.parse(l) as { s?: "o" | "e"; d?: string; exit?: number };
        if (f.exit !== undefined) exit = f.exit;
        else if (f.d !== undefined) (f.s === "o" ? out : err).push(Buffer.from(f.d, "base64"));
      },
      undefined,
      { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ argv }) },
    );
    return { exit, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  }

  async text(method: string, path: string): Promise<string> {
    const res = await this.fetch(path, { method, timeoutMs: 30_000 });
    const body = await res.text();
    if (!res.ok) throw errorFromBody(JSON.parse(body || "{}"), res.status);
    return body;
  }

  /** A long operation: progress lines go to `onProgress`, the result is returned, an error line is thrown. */
  async op<T>(
    method: string,
    path: string,
    body: unknown,
    onProgress: (p: ProgressLine) => void,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const res = await this.fetch(path, {
      method,
      headers: {
        accept: "application/x-ndjson",
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw errorFromBody(await res.json().catch(() => undefined), res.status);
    let result: T | undefined;
    for await (const line of lines(res)) {
      const o = JSON.parse(line) as { progress?: ProgressLine; result?: T; error?: unknown; status?: number };
      if (o.progress) onProgress(o.progress);
      else if (o.error) throw errorFromBody({ error: o.error }, o.status ?? 500);
      else if ("result" in o) result = o.result;
    }
    if (result === undefined) throw new DomainError("INTERNAL", "the daemon closed the stream without a result");
    return result;
  }

  async stream(path: string, onLine: (line: string) => void, signal?: AbortSignal, init: RequestInit = {}): Promise<void> {
    const res = await this.fetch(path, { ...init, signal });
    if (!res.ok) throw errorFromBody(await res.json().catch(() => undefined), res.status);
    for await (const l of lines(res)) onLine(l);
  }
}

async function* lines(res: Response): AsyncIterable<string> {
  if (!res.body) return;
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += dec.decode(chunk, { stream: true });
    let i = buf.indexOf("\n");
    while (i >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
      i = buf.indexOf("\n");
    }
  }
  if (buf) yield buf;
}
