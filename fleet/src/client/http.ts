/**
 * The client's one HTTP exchange, on node:http rather than fetch: the CLI makes one or two requests per run, and fetch's
 * first request costs ~100 ms of loading and setting up undici (measured: `hermes-admin list` 0.63 -> see README).
 * Keep-alive sockets are reused across calls of one process; an idle one never keeps it alive (the agent unrefs it).
 */
import { Agent, type IncomingMessage, request } from "node:http";
import { request as requestTls } from "node:https";

export interface HttpAnswer {
  status: number;
  ok: boolean;
  text(): Promise<string>;
  json(): Promise<unknown>;
  /** The body as it arrives (for NDJSON streams). */
  body: AsyncIterable<Uint8Array>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

export function httpExchange(
  url: string,
  o: { method: string; headers: Record<string, string>; body?: string | undefined; signal?: AbortSignal | undefined },
): Promise<HttpAnswer> {
  const u = new URL(url);
  const send = u.protocol === "https:" ? requestTls : request;
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = send(
      u,
      {
        method: o.method,
        headers: { ...o.headers, ...(o.body !== undefined ? { "content-length": String(Buffer.byteLength(o.body)) } : {}) },
        ...(u.protocol === "https:" ? {} : { agent }),
        ...(o.signal ? { signal: o.signal } : {}),
      },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const text = async () => {
          const parts: Buffer[] = [];
          for await (const c of res) parts.push(c as Buffer);
          return Buffer.concat(parts).toString("utf8");
        };
        resolve({
          status,
          ok: status >= 200 && status < 300,
          text,
          json: async () => JSON.parse(await text()),
          body: res,
        });
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}
