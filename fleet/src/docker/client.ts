/**
 * Small shared pieces of the Docker Engine API layer: the client, "only 404 means absent", the idempotent network
 * ensure, and the mapping of engine errors to our DriverError. Everything else talks to Docker through these.
 */
import { DriverError, LABELS, MANAGED_BY } from "@twilight/core";
import Docker from "dockerode";

/** A client for the local engine: DOCKER_HOST when set (tcp:// or unix://), else /var/run/docker.sock. */
export function dockerClient(env: NodeJS.ProcessEnv = process.env): Docker {
  const host = env.DOCKER_HOST;
  if (host?.startsWith("unix://")) return new Docker({ socketPath: host.slice("unix://".length) });
  if (host?.startsWith("tcp://")) {
    const u = new URL(host.replace(/^tcp:/, "http:"));
    return new Docker({ host: u.hostname, port: Number(u.port || 2375) });
  }
  return new Docker({ socketPath: "/var/run/docker.sock" });
}

export function statusOf(e: unknown): number | undefined {
  const s = (e as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === "number" ? s : undefined;
}

export function isNotFound(e: unknown): boolean {
  return statusOf(e) === 404;
}

/** Wrap an engine error (connection refused, 500, ...) as a DriverError; 5xx and socket errors are retryable. */
export function engineError(what: string, e: unknown): DriverError {
  const status = statusOf(e);
  const msg = (e as { json?: { message?: string } })?.json?.message ?? (e instanceof Error ? e.message : String(e));
  const retryable = status === undefined || status >= 500;
  return new DriverError("docker", `${what}: ${msg}`, {
    retryable,
    cause: e,
    details: status === undefined ? {} : { status },
    hint: status === undefined ? "is dockerd running? (`bash -c 'source scripts/lib/common.sh; ensure_docker'`)" : undefined,
  });
}

/**
 * Ensure a bridge network exists (idempotent): inspect; only a 404 means absent; a create racing another create (409)
 * counts as success. A network of that name that is not ours is used as is (an operator may pre-create it).
 */
export async function ensureNetwork(docker: Docker, name: string): Promise<string> {
  try {
    const info = (await docker.getNetwork(name).inspect()) as { Id: string };
    return info.Id;
  } catch (e) {
    if (!isNotFound(e)) throw engineError(`inspect network ${name}`, e);
  }
  try {
    const net = await docker.createNetwork({
      Name: name,
      Driver: "bridge",
      CheckDuplicate: true,
      Labels: { [LABELS.managedBy]: MANAGED_BY },
    });
    return net.id;
  } catch (e) {
    if (statusOf(e) === 409) {
      const info = (await docker.getNetwork(name).inspect()) as { Id: string };
      return info.Id;
    }
    throw engineError(`create network ${name}`, e);
  }
}

/** Whether an image exists locally (404 = no). */
export async function imageExists(docker: Docker, ref: string): Promise<boolean> {
  try {
    await docker.getImage(ref).inspect();
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw engineError(`inspect image ${ref}`, e);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
