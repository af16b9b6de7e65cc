/**
 * Transport A: SSH with a dedicated deploy key whose authorized_keys line forces
 * `restrict,command="hermes-admin provision --stdin"`. We write the same JSON request as the HTTP body plus
 * `idempotency_key` on stdin and read the same JSON answer on stdout (`{created, profile, connection}` or `{error}`).
 * The server's host key is pinned by its SHA-256 fingerprint.
 */
import { createHash } from "node:crypto";
import { Unavailable } from "@twilight/core";
import { Client } from "ssh2";
import {
  checkLifecycleAnswer,
  type FleetTransport,
  type LifecycleRequest,
  type ProvisionRequest,
  type ProvisionResult,
  parseFleetAnswer,
} from "./transport.js";

export interface SshTransportOptions {
  host: string;
  port: number;
  username: string;
  privateKey: string;
  /** `SHA256:<base64>` as `ssh-keygen -lf` prints it; the connection is refused for any other host key. */
  hostKeySha256: string;
  command?: string;
  timeoutMs?: number;
}

export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

export class SshFleetTransport implements FleetTransport {
  readonly kind = "ssh" as const;
  constructor(private readonly o: SshTransportOptions) {}

  async provision(req: ProvisionRequest): Promise<ProvisionResult> {
    const { status, text } = await this.run({
      tier: req.tier,
      plan: req.plan,
      user_id: req.user_id,
      set: req.set,
      name: req.name,
      idempotency_key: req.idempotency_key,
    });
    return parseFleetAnswer(status, text);
  }

  /** The same forced command with `{action: "stop"|"delete", name, idempotency_key}`. */
  async act(req: LifecycleRequest): Promise<void> {
    const { status, text } = await this.run({ action: req.action, name: req.name, idempotency_key: req.idempotency_key });
    checkLifecycleAnswer(status, text);
  }

  /** Writes one JSON line to the forced command; resolves with the last stdout line and an HTTP-like status. */
  private run(request: object): Promise<{ status: number; text: string }> {
    const input = `${JSON.stringify(request)}\n`;
    return new Promise<{ status: number; text: string }>((resolve, reject) => {
      const conn = new Client();
      let settled = false;
      const done = (err: Error | null, v?: { status: number; text: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        conn.end();
        if (err) reject(err);
        else resolve(v as { status: number; text: string });
      };
      const timer = setTimeout(() => done(new Unavailable("ssh provisioning timed out")), this.o.timeoutMs ?? 120_000);
      conn.on("error", (e) => done(new Unavailable(`ssh to ${this.o.host}:${this.o.port} failed: ${e.message}`)));
      conn.on("ready", () => {
        conn.exec(this.o.command ?? "hermes-admin provision --stdin", (err, stream) => {
          if (err) return done(new Unavailable(`ssh exec failed: ${err.message}`));
          const out: Buffer[] = [];
          const errOut: Buffer[] = [];
          let code: number | null = null;
          stream.on("data", (c: Buffer) => out.push(c));
          stream.stderr.on("data", (c: Buffer) => errOut.push(c));
          stream.on("exit", (c: number | null) => {
            code = c;
          });
          stream.on("close", () => {
            const text = Buffer.concat(out).toString("utf8").trim();
            if (!text) {
              const why = Buffer.concat(errOut).toString("utf8").slice(0, 200);
              return done(new Unavailable(`provision command exited ${code} with no answer${why ? `: ${why}` : ""}`));
            }
            const last = text.split("\n").at(-1) ?? text;
            done(null, { status: code === 0 ? 200 : statusOf(last), text: last });
          });
          stream.end(input);
        });
      });
      conn.connect({
        host: this.o.host,
        port: this.o.port,
        username: this.o.username,
        privateKey: this.o.privateKey,
        readyTimeout: 10_000,
        hostVerifier: (key: Buffer) => hostKeyFingerprint(key) === this.o.hostKeySha256,
      });
    });
  }

  async close(): Promise<void> {}
}

/** A non-zero exit carries `{error:{code}}`; map its code to the HTTP status the HTTP transport would have seen. */
function statusOf(text: string): number {
  try {
    const code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    if (code === "NOT_FOUND") return 404;
    if (code === "UNAVAILABLE" || code === "TIMEOUT" || code === "INTERNAL" || code === "DRIVER") return 503;
    return 400;
  } catch {
    return 502;
  }
}
