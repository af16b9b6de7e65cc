/**
 * The fleet daemon's HTTP client, typed by the admin API contract: every call names a route of the table, its input is
 * checked with the route's schemas before it is sent, and its answer is parsed with the route's response schema. Used
 * by the CLI, `verify`, the benches and tests. Errors come back as the daemon's typed domain errors.
 */
import { DomainError, errorFromBody, InputInvalid, Unavailable } from "@twilight/core/errors";
import { formatIssues } from "@twilight/core/validation";
import type { z } from "zod/v4";
import type { FleetConfig } from "../config.js";
import { pathOf } from "../contract/path.js";
import type { BodyOf, ParamsOf, QueryOf, ResponseOf, RouteDef } from "../contract/routes.js";
import type { ExecFrame, ProgressLine } from "../contract/schemas.js";
import { readAdminToken, readPidFile, runningDaemon } from "../lib/daemon-files.js";
import { type HttpAnswer, httpExchange } from "./http.js";
import { clientHeaders, defaultActor, takePrefetched } from "./prefetch.js";

export type { ProgressLine };

type Maybe<T, K extends string> = T extends Record<string, never> | undefined ? { [P in K]?: T } : { [P in K]: T };
export type CallInput<R extends RouteDef> = Maybe<ParamsOf<R>, "params"> &
  Partial<{ query: Partial<QueryOf<R>> }> &
  Maybe<BodyOf<R>, "body"> & { headers?: Record<string, string>; signal?: AbortSignal };

function check<S extends z.ZodType>(what: string, schema: S, value: unknown): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new InputInvalid(`${what}: ${formatIssues(r.error.issues)}`);
  return r.data;
}

export class FleetClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: () => string,
    private readonly actor = defaultActor(),
  ) {}

  /**
   * The CLI's client: the running daemon found from the environment alone (its pid file), so a command that only talks
   * to it never builds the fleet's config schema (~20 ms of every run); with no daemon running, `fromConfig`.
   */
  static local(cfg: () => FleetConfig): FleetClient {
    const d = runningDaemon();
    return d ? new FleetClient(d.url, () => readAdminToken(d.adminTokenFile)) : FleetClient.fromConfig(cfg());
  }

  static fromConfig(cfg: FleetConfig): FleetClient {
    // The daemon's own address when it runs; else the configured one.
    const url = readPidFile(cfg.pidFile)?.url ?? `http://${cfg.api.host}:${cfg.api.port}`;
    return new FleetClient(url, () => readAdminToken(cfg.adminTokenFile));
  }

  private async send<R extends RouteDef>(route: R, input: CallInput<R>, accept?: string): Promise<HttpAnswer> {
    const i = input as { params?: Record<string, string>; query?: Record<string, unknown>; body?: unknown };
    let path = pathOf(route, i.params ?? {});
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(i.query ?? {})) if (v !== undefined) q.set(k, String(v));
    if ([...q].length) path += `?${q}`;
    const body = route.body ? JSON.stringify(check("request body", route.body, i.body ?? {})) : undefined;
    const headers: Record<string, string> = {
      ...clientHeaders(route.auth !== "none" ? this.token() : undefined, this.actor),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(accept ? { accept } : {}),
      ...(input.headers ?? {}),
    };
    const plainGet = route.method === "GET" && body === undefined && !accept && !input.headers && !input.signal;
    let res: HttpAnswer | undefined = plainGet ? await takePrefetched(`${this.baseUrl}${path}`, headers) : undefined;
    if (!res)
      try {
        res = await httpExchange(`${this.baseUrl}${path}`, {
          method: route.method,
          headers,
          body,
          signal: input.signal ?? (route.kind === "json" || route.kind === "text" ? AbortSignal.timeout(120_000) : undefined),
        });
      } catch (e) {
        if (e instanceof DomainError) throw e;
        throw new Unavailable(`the fleet daemon at ${this.baseUrl} did not answer: ${(e as Error).message}`, {
          hint: "start it with `hermes-admin up` (or check `hermes-admin up` output / ops/logs/fleet.log)",
        });
      }
    if (!res.ok) {
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      throw errorFromBody(parsed, res.status);
    }
    return res;
  }

  /** A `json` route (its answer parsed with the route's schema) or a `text` route (the text). */
  async call<R extends RouteDef>(route: R, input: CallInput<R>): Promise<ResponseOf<R>> {
    const res = await this.send(route, input);
    if (route.kind === "text") return (await res.text()) as ResponseOf<R>;
    if (route.kind !== "json") throw new Error(`route ${route.path} is a ${route.kind} route`);
    return check(`answer of ${route.method} ${route.path}`, route.response, await res.json()) as ResponseOf<R>;
  }

  /** A long operation: progress lines go to `onProgress`, the result is parsed and returned, an error line is thrown. */
  async op<R extends RouteDef>(
    route: R,
    input: CallInput<R>,
    onProgress: (p: ProgressLine) => void = () => undefined,
  ): Promise<ResponseOf<R>> {
    // the schemas are loaded with the first call, not with the client (the CLI's start stays free of them)
    const { ProgressLine } = await import("../contract/schemas.js");
    const res = await this.send(route, input, "application/x-ndjson");
    let result: unknown;
    let got = false;
    for await (const line of lines(res)) {
      const o = JSON.parse(line) as { progress?: unknown; result?: unknown; error?: unknown; status?: number };
      if (o.progress) onProgress(check("progress line", ProgressLine, o.progress));
      else if (o.error) throw errorFromBody({ error: o.error }, o.status ?? 500);
      else if ("result" in o) {
        result = o.result;
        got = true;
      }
    }
    if (!got) throw new DomainError("INTERNAL", "the daemon closed the stream without a result");
    return check(`result of ${route.method} ${route.path}`, route.response, result) as ResponseOf<R>;
  }

  /** A `stream` route (text lines) or an `ndjson` route (each line parsed with the route's frame schema). */
  async lines<R extends RouteDef>(route: R, input: CallInput<R>, onLine: (line: ResponseOf<R>) => void): Promise<void> {
    const res = await this.send(route, input);
    for await (const l of lines(res)) {
      if (route.kind === "ndjson") onLine(check("stream frame", route.response, JSON.parse(l)) as ResponseOf<R>);
      else onLine(l as ResponseOf<R>);
    }
  }

  /** Run a command in a profile (see `hermes-admin exec`), output collected. */
  async exec(name: string, argv: string[]): Promise<{ exit: number; stdout: string; stderr: string }> {
    let exit = 1;
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const { ROUTES } = await import("../contract/routes.js");
    await this.lines(ROUTES.execProfile, { params: { name }, body: { argv } }, (f: z.infer<typeof ExecFrame>) => {
      if ("exit" in f) exit = f.exit;
      else (f.s === "o" ? out : err).push(Buffer.from(f.d, "base64"));
    });
    return { exit, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  }
}

async function* lines(res: HttpAnswer): AsyncIterable<string> {
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
