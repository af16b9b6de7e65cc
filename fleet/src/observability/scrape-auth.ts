/**
 * The scrape credential: one token, held by Prometheus in a file, that can read metrics and nothing else. This module
 * is the exact check the daemon runs before the admin-token check; it is pure (token comparison in constant time).
 *
 * Allowed with the scrape token, and only these:
 *   - `GET /metrics`              the fleet's own registry;
 *   - `GET /p/<profile>/metrics`  one profile's registry through the front door, for a valid profile name, no query.
 * Anything else presented with the scrape token is refused (403), never treated as "no token".
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { isProfileName } from "@twilight/core/names";

export type ScrapeAccess =
  /** Not a metrics request, or not the scrape token: the normal (admin / front door) rules apply. */
  | { kind: "pass" }
  /** The scrape token on an allowed path. */
  | { kind: "fleet" }
  | { kind: "profile"; profile: string }
  /** The scrape token on any other method or path. */
  | { kind: "forbidden" };

export interface ScrapeRequest {
  method: string | undefined;
  url: string | undefined;
  authorization: string | undefined;
}

/** A new scrape token (URL-safe, 256 bits). */
export function newScrapeToken(): string {
  return randomBytes(32).toString("base64url");
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/** Constant-time comparison of a presented bearer token with the expected one (hashes first: equal lengths). */
export function isScrapeToken(authorization: string | undefined, scrapeToken: string): boolean {
  if (!authorization || scrapeToken.length < 16) return false;
  const m = /^Bearer ([^\s]+)$/.exec(authorization);
  if (!m) return false;
  return timingSafeEqual(digest(m[1] as string), digest(scrapeToken));
}

/** Decide what a request carrying (or not carrying) the scrape token may do. */
export function scrapeAccess(req: ScrapeRequest, scrapeToken: string): ScrapeAccess {
  if (!isScrapeToken(req.authorization, scrapeToken)) return { kind: "pass" };
  if (req.method !== "GET") return { kind: "forbidden" };
  const url = req.url ?? "";
  if (url === "/metrics") return { kind: "fleet" };
  const m = /^\/p\/([a-z0-9-]{1,40})\/metrics$/.exec(url);
  if (m && isProfileName(m[1])) return { kind: "profile", profile: m[1] as string };
  return { kind: "forbidden" };
}
