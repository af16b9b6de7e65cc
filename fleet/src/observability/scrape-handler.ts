/**
 * The scrape path of the daemon, ready to mount first in its request handler: with the scrape token, `GET /metrics`
 * answers the fleet registry and `GET /p/<name>/metrics` fetches that profile's own `/metrics` with the profile's API
 * key (Prometheus never holds it). Not held by the front door, never wakes a profile, not counted as front-door traffic.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { scrapeAccess } from "./scrape-auth.js";

export interface ScrapeTarget {
  port: number;
  apiKey: string;
}

export interface ScrapeDeps {
  scrapeToken: string;
  /** The fleet registry's text (call `syncProfiles` first). */
  fleetMetrics: () => Promise<{ contentType: string; body: string }>;
  /** Where the profile serves now and its API key; undefined when it is stopped, sleeping or being moved. */
  profileTarget: (name: string) => Promise<ScrapeTarget | undefined>;
  /** Upstream timeout (default 5 s, below Prometheus' default 10 s scrape timeout). */
  timeoutMs?: number;
  /** Largest profile answer passed on (default 4 MiB). */
  maxBytes?: number;
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end(`${text}\n`);
}

/**
 * Answer the request when it carries the scrape token (true), or leave it alone (false) so the admin and front-door
 * rules apply. Errors never echo a header or token.
 */
export async function handleScrape(req: IncomingMessage, res: ServerResponse, d: ScrapeDeps): Promise<boolean> {
  const access = scrapeAccess({ method: req.method, url: req.url, authorization: req.headers.authorization }, d.scrapeToken);
  if (access.kind === "pass") return false;
  if (access.kind === "forbidden") {
    plain(res, 403, "the scrape token reads /metrics and /p/<profile>/metrics only");
    return true;
  }
  if (access.kind === "fleet") {
    const m = await d.fleetMetrics();
    res.writeHead(200, { "content-type": m.contentType, "cache-control": "no-store" }).end(m.body);
    return true;
  }
  const target = await d.profileTarget(access.profile);
  if (!target) {
    plain(res, 503, `profile ${access.profile} is not serving`);
    return true;
  }
  try {
    const up = await fetch(`http://127.0.0.1:${target.port}/metrics`, {
      headers: { authorization: `Bearer ${target.apiKey}`, accept: "text/plain" },
      signal: AbortSignal.timeout(d.timeoutMs ?? 5000),
      redirect: "error",
    });
    const body = await up.text();
    if (!up.ok) {
      plain(res, 502, `profile ${access.profile} answered ${up.status}`);
      return true;
    }
    if (Buffer.byteLength(body) > (d.maxBytes ?? 4 << 20)) {
      plain(res, 502, `profile ${access.profile} answered more than the scrape limit`);
      return true;
    }
    res
      .writeHead(200, {
        "content-type": up.headers.get("content-type") ?? "text/plain; version=0.0.4; charset=utf-8",
        "cache-control": "no-store",
      })
      .end(body);
  } catch (err) {
    const timeout = (err as Error).name === "TimeoutError";
    plain(res, timeout ? 504 : 503, `profile ${access.profile} ${timeout ? "timed out" : "did not answer"}`);
  }
  return true;
}
