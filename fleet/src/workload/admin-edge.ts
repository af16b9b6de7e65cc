/**
 * A POST to a profile runtime's admin edge (`/admin/activate|release|assign`, agent/README.md). What it sends is a key
 * (and, for assign, the profile's secrets), so it goes only to a port whose every listener is `ep.owner` (the runtime's
 * uid; unset for a port on another node, in the task's own namespace there).
 */
import { DomainError, TimeoutError } from "@twilight/core";
import { squatter } from "../lib/sockets.js";

export interface RuntimeEndpoint {
  host: string;
  port: number;
  owner?: number;
}

export async function postAdmin(
  ep: RuntimeEndpoint,
  what: "activate" | "release" | "assign",
  bearer: string,
  body?: unknown,
): Promise<void> {
  const other = ep.owner === undefined ? undefined : squatter(ep.port, ep.owner);
  if (other) throw new DomainError("UNAVAILABLE", `not sending ${what} (a key) to port ${ep.port}: ${other}`);
  const res = await fetch(`http://${ep.host}:${ep.port}/admin/${what}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(15_000),
  }).catch((e: Error) => {
    throw new TimeoutError(`${what} request failed: ${e.message}`);
  });
  if (!res.ok) throw new DomainError("DRIVER", `${what} answered HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
}
