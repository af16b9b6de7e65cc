/**
 * The seam between billing and the fleet: one interface, one file per transport (http.ts, ssh.ts), chosen in
 * `createTransport` only. C (Docker API) is deliberately not a transport: the fleet owns Docker.
 */
import { DomainError, errorFromBody, Unavailable } from "@twilight/core";

export interface ProvisionRequest {
  name: string;
  tier: "prefab" | "container";
  plan: string;
  user_id: string;
  /** Supplied secrets and settings for the profile's .env (never logged). */
  set: Record<string, string>;
  /** The order id: the fleet answers the same profile for the same key. */
  idempotency_key: string;
}

export interface ProvisionResult {
  created: boolean;
  profile: { name: string; tier: string; status: string; status_url?: string; api_base?: string; [k: string]: unknown };
  connection: { status_url: string; api_base: string; session_header: string; [k: string]: unknown };
}

export type LifecycleAction = "stop" | "delete";

export interface LifecycleRequest {
  name: string;
  action: LifecycleAction;
  /** `<order id>:<action>`: the fleet may treat a repeat as done. */
  idempotency_key: string;
}

export interface FleetTransport {
  readonly kind: "http" | "ssh";
  provision(req: ProvisionRequest): Promise<ProvisionResult>;
  /** Stops or deletes a profile (refund, end of period, end of retention). A profile the fleet does not know counts as done. */
  act(req: LifecycleRequest): Promise<void>;
  close(): Promise<void>;
}

/** A lifecycle answer: 2xx or NOT_FOUND is done; anything else is an error (retryable like a provisioning error). */
export function checkLifecycleAnswer(status: number, text: string): void {
  if ((status >= 200 && status < 300) || status === 404) return;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Unavailable(`fleet answered ${status} with a body that is not JSON`);
  }
  const e = errorFromBody(body, status);
  if (e.code === "NOT_FOUND") return;
  const retryable = status >= 500 || status === 408 || status === 429 || e.code === "UNAVAILABLE" || e.code === "TIMEOUT";
  throw new DomainError(e.code, `fleet: ${e.message}`, { hint: e.hint, details: { ...e.details, status }, retryable });
}

/** The fleet's `{ created, profile, connection }` or `{ error }`, as either transport receives it. */
export function parseFleetAnswer(status: number, text: string): ProvisionResult {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Unavailable(`fleet answered ${status} with a body that is not JSON`);
  }
  if (status >= 200 && status < 300) {
    const b = body as Partial<ProvisionResult>;
    if (!b?.profile || !b.connection || typeof b.connection.api_base !== "string") {
      throw new DomainError("UPSTREAM", "fleet answer lacks profile/connection", { retryable: false });
    }
    return b as ProvisionResult;
  }
  const e = errorFromBody(body, status);
  const retryable = status >= 500 || status === 408 || status === 429 || e.code === "UNAVAILABLE" || e.code === "TIMEOUT";
  throw new DomainError(e.code, `fleet: ${e.message}`, { hint: e.hint, details: { ...e.details, status }, retryable });
}
