/**
 * A local server that speaks the Tushare Pro protocol, for tests and as a developer tool
 * (`node dist/cli.js tushare-test-server`). It serves the fixture tables, checks the token, can enforce a real
 * per-minute limit, and can be told to answer the next N calls with Tushare's own error responses.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { loadFixture } from "../fixture.js";
import { answerQuery, parseFields } from "./answer.js";
import { TUSHARE_MESSAGES, TushareError } from "./errors.js";
import type { TushareParams, TushareResponse, TushareTable } from "./types.js";

export type TushareFault = "bad_token" | "rate_minute" | "rate_day" | "permission" | "http_500";

export interface TushareTestServerOptions {
  token: string;
  tables?: Record<string, TushareTable>;
  host?: string;
  port?: number;
  /** Enforce a per-minute limit per API like Tushare does (default: none). */
  perMinute?: number;
  /** Answer daily rows only up to this trade date (simulates "today's data not out yet"). */
  dailyUntil?: string;
}

export interface TushareCall {
  api: string;
  params: TushareParams;
  answer: "ok" | TushareFault | "bad_request";
}

export interface TushareTestServer {
  url: string;
  calls: TushareCall[];
  /** The next `times` calls (of `api`, or of any API) get this fault. */
  inject(fault: TushareFault, times: number, api?: string): void;
  setDailyUntil(date: string | undefined): void;
  /** Forget calls and pending faults, serve all daily rows again. */
  reset(): void;
  close(): Promise<void>;
}

const FAULT_CODE: Record<Exclude<TushareFault, "http_500">, [number, string]> = {
  bad_token: [40101, TUSHARE_MESSAGES.badToken],
  rate_minute: [40203, TUSHARE_MESSAGES.rateMinute(200)],
  rate_day: [40203, TUSHARE_MESSAGES.rateDay(20000)],
  permission: [40203, TUSHARE_MESSAGES.permission],
};

export async function startTushareTestServer(opts: TushareTestServerOptions): Promise<TushareTestServer> {
  const tables = opts.tables ?? loadFixture();
  const calls: TushareCall[] = [];
  const faults: { fault: TushareFault; left: number; api?: string }[] = [];
  const recent = new Map<string, number[]>();
  let dailyUntil = opts.dailyUntil;

  const takeFault = (api: string): TushareFault | undefined => {
    const f = faults.find((x) => x.left > 0 && (!x.api || x.api === api));
    if (!f) return undefined;
    f.left--;
    return f.fault;
  };
  const overLimit = (api: string): boolean => {
    if (!opts.perMinute) return false;
    const now = Date.now();
    const list = (recent.get(api) ?? []).filter((t) => t > now - 60_000);
    list.push(now);
    recent.set(api, list);
    return list.length > opts.perMinute;
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const send = (status: number, body: TushareResponse | string) => {
        const text = typeof body === "string" ? body : JSON.stringify(body);
        res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
        res.end(text);
      };
      let body: { api_name?: unknown; token?: unknown; params?: unknown; fields?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch {
        send(200, { code: -2001, msg: "参数错误: body is not JSON", data: null });
        return;
      }
      const api = String(body.api_name ?? "");
      const params = (typeof body.params === "object" && body.params !== null ? body.params : {}) as TushareParams;
      const record = (answer: TushareCall["answer"]) => calls.push({ api, params, answer });
      const request_id = randomUUID();
      if (body.token !== opts.token) {
        record("bad_token");
        send(200, { code: 40101, msg: TUSHARE_MESSAGES.badToken, data: null, request_id });
        return;
      }
      const fault = takeFault(api) ?? (overLimit(api) ? "rate_minute" : undefined);
      if (fault === "http_500") {
        record(fault);
        send(500, "internal server error");
        return;
      }
      if (fault) {
        record(fault);
        const [code, msg] = FAULT_CODE[fault];
        send(200, { code, msg, data: null, request_id });
        return;
      }
      try {
        const p = api === "daily" && dailyUntil ? capEnd(params, dailyUntil) : params;
        const data = answerQuery(tables, api, p, parseFields(body.fields));
        record("ok");
        send(200, { code: 0, msg: "", data, request_id });
      } catch (e) {
        record("bad_request");
        const code = e instanceof TushareError ? Number(e.details.code ?? -1) : -1;
        send(200, { code, msg: (e as Error).message.replace(/^tushare: [a-z_]+: /, ""), data: null, request_id });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? "127.0.0.1"}:${addr.port}`,
    calls,
    inject(fault, times, api) {
      faults.push({ fault, left: times, ...(api ? { api } : {}) });
    },
    setDailyUntil(date) {
      dailyUntil = date;
    },
    reset() {
      calls.length = 0;
      faults.length = 0;
      dailyUntil = undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function capEnd(params: TushareParams, until: string): TushareParams {
  const end = params.end_date === undefined ? until : String(params.end_date) < until ? String(params.end_date) : until;
  const td = params.trade_date === undefined ? undefined : String(params.trade_date) > until ? "00000000" : params.trade_date;
  return { ...params, end_date: end, ...(td === undefined ? {} : { trade_date: td }) };
}
