/**
 * A read sent while the CLI is still loading: a command that knows its first request from its arguments alone (`list`)
 * sends it before the contract and config (zod: ~0.1 s of a run) are loaded, and the client takes that answer for the
 * same GET instead of sending it again. The answer is parsed with the route's schema like any other; a prefetch that
 * failed is forgotten and the call goes out as usual (its error is the usual one).
 */
import { readAdminToken, runningDaemon } from "../lib/daemon-files.js";
import { type HttpAnswer, httpExchange } from "./http.js";

const early = new Map<string, Promise<HttpAnswer | undefined>>();
// an answer is taken only by a call to the same URL with the same credentials and actor
const keyOf = (url: string, headers: Record<string, string>) => `${url}\n${headers.authorization ?? ""}\n${headers["x-actor"]}`;

/** The headers of every client request (`FleetClient.send`): the same for a prefetch. */
export function clientHeaders(token: string | undefined, actor: string): Record<string, string> {
  return { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), "x-actor": actor };
}

export const defaultActor = (): string => `cli:${process.env.SUDO_USER ?? process.env.USER ?? "root"}`;

/**
 * GET `path` from the running daemon (the pid file's address, the admin token) now, for a client call made later in
 * this process. Does nothing when there is no running daemon or no readable token: the call then reports it.
 */
export function prefetch(path: string, env: NodeJS.ProcessEnv = process.env): void {
  const d = runningDaemon(env);
  if (!d) return;
  let token: string;
  try {
    token = readAdminToken(d.adminTokenFile);
  } catch {
    return;
  }
  const headers = clientHeaders(token, defaultActor());
  const answer = httpExchange(`${d.url}${path}`, { method: "GET", headers, signal: AbortSignal.timeout(120_000) }).catch(
    () => undefined,
  );
  early.set(keyOf(`${d.url}${path}`, headers), answer);
}

/** The prefetched answer of GET `url` with these headers (once), if there is one. */
export function takePrefetched(url: string, headers: Record<string, string>): Promise<HttpAnswer | undefined> | undefined {
  const k = keyOf(url, headers);
  const p = early.get(k);
  early.delete(k);
  return p;
}
