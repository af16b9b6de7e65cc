/**
 * Transport B: `PUT {FLEET_URL}/v1/profiles/{name}` (and the lifecycle verbs) with the provisioning credential (HMAC, core/provision-auth.ts),
 * `Idempotency-Key: <order id>`. The credential can only provision; it is not the admin token.
 */
import { signProvisionRequest, Unavailable } from "@twilight/core";
import {
  checkLifecycleAnswer,
  type FleetTransport,
  type LifecycleRequest,
  type ProvisionRequest,
  type ProvisionResult,
  parseFleetAnswer,
} from "./transport.js";

export interface HttpTransportOptions {
  fleetUrl: string;
  keyId: string;
  secret: string;
  timeoutMs?: number;
}

export class HttpFleetTransport implements FleetTransport {
  readonly kind = "http" as const;
  constructor(private readonly o: HttpTransportOptions) {}

  async provision(req: ProvisionRequest): Promise<ProvisionResult> {
    const path = `/v1/profiles/${encodeURIComponent(req.name)}`;
    const body = JSON.stringify({ tier: req.tier, plan: req.plan, user_id: req.user_id, set: req.set });
    const headers = signProvisionRequest({ keyId: this.o.keyId, secret: this.o.secret, method: "PUT", path, body });
    let res: Response;
    try {
      res = await fetch(new URL(path, this.o.fleetUrl), {
        method: "PUT",
        headers: {
          ...headers,
          "content-type": "application/json",
          accept: "application/json",
          "idempotency-key": req.idempotency_key,
        },
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 120_000),
      });
    } catch (e) {
      throw new Unavailable(`fleet unreachable at ${this.o.fleetUrl}: ${(e as Error).message}`);
    }
    return parseFleetAnswer(res.status, await res.text());
  }

  /** `POST /v1/profiles/{name}/stop` or `DELETE /v1/profiles/{name}`, signed like provisioning. */
  async act(req: LifecycleRequest): Promise<void> {
    const name = encodeURIComponent(req.name);
    const [method, path] = req.action === "stop" ? ["POST", `/v1/profiles/${name}/stop`] : ["DELETE", `/v1/profiles/${name}`];
    const body = req.action === "stop" ? "{}" : "";
    const headers = signProvisionRequest({ keyId: this.o.keyId, secret: this.o.secret, method, path, body });
    let res: Response;
    try {
      res = await fetch(new URL(path, this.o.fleetUrl), {
        method,
        headers: {
          ...headers,
          accept: "application/json",
          "idempotency-key": req.idempotency_key,
          ...(body ? { "content-type": "application/json" } : {}),
        },
        ...(body ? { body } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 120_000),
      });
    } catch (e) {
      throw new Unavailable(`fleet unreachable at ${this.o.fleetUrl}: ${(e as Error).message}`);
    }
    checkLifecycleAnswer(res.status, await res.text());
  }

  async close(): Promise<void> {}
}
