/**
 * A fetch over node:http, for MCP clients (the agent's and the skill's commands).
 * - `unixSocketFetch(path)`: over a unix socket. A profile reaches the data service through a socket in a directory the
 *   tenant cannot write (`mcp_servers.<name>.socket`), so no other uid can squat the endpoint and receive the profile's
 *   bearer token, as it could on a loopback TCP port. The URL still gives the path and the Host header.
 * - `nodeHttpFetch()`: over TCP (http or https), with Node's keep-alive agents. The global fetch is undici: its
 *   JavaScript and its WebAssembly HTTP parser cost a profile process ~10 MiB of RSS the first time it is used, which
 *   node:http (parser built into the binary) does not.
 * Response bodies stream (SSE works).
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";

/** The shape of the MCP SDK's `FetchLike` (core does not depend on the SDK). */
export type UnixFetch = (url: string | URL, init?: RequestInit) => Promise<Response>;

function bodyOf(body: RequestInit["body"]): string | Uint8Array | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string" || body instanceof Uint8Array) return body;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof URLSearchParams) return body.toString();
  throw new TypeError("unix socket fetch: only string or byte request bodies are supported");
}

export function unixSocketFetch(socketPath: string): UnixFetch {
  return nodeFetch(socketPath);
}

export function nodeHttpFetch(): UnixFetch {
  return nodeFetch(undefined);
}

function nodeFetch(socketPath: string | undefined): UnixFetch {
  return (url, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const u = new URL(String(url));
      const headers: Record<string, string> = { host: u.host };
      new Headers(init.headers).forEach((v, k) => {
        headers[k] = v;
      });
      const signal = init.signal ?? undefined;
      if (signal?.aborted) return reject(signal.reason ?? new Error("aborted"));
      if (!socketPath && u.protocol !== "http:" && u.protocol !== "https:")
        return reject(new TypeError(`node fetch: ${u.protocol} URLs are not supported`));
      const target = socketPath ? { socketPath } : { hostname: u.hostname.replace(/^\[|\]$/g, ""), port: u.port || undefined };
      const request = !socketPath && u.protocol === "https:" ? httpsRequest : httpRequest;
      const options = { ...target, method: init.method ?? "GET", path: `${u.pathname}${u.search}`, headers };
      const req = request(options, (res) => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (v === undefined) continue;
          for (const x of Array.isArray(v) ? v : [v]) h.append(k, x);
        }
        const status = res.statusCode ?? 502;
        const empty = status === 204 || status === 304 || init.method === "HEAD";
        if (empty) res.resume();
        const stream = empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
        resolve(new Response(stream, { status, statusText: res.statusMessage ?? "", headers: h }));
      });
      const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => signal?.removeEventListener("abort", onAbort));
      req.on("error", reject);
      req.end(bodyOf(init.body));
    });
}
