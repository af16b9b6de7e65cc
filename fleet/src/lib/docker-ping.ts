/**
 * Is the Docker Engine answering, asked the cheapest way (GET /version on its socket) with no Docker client library:
 * the CLI uses it before anything else (`up`, `doctor`), so it must work with the daemon down. DOCKER_HOST as the
 * fleet reads it (unix:// or tcp://), else /var/run/docker.sock.
 */
import { request } from "node:http";

export interface DockerPing {
  endpoint: string;
  ok: boolean;
  version?: string;
  apiVersion?: string;
  error?: string;
}

export function dockerEndpoint(env: NodeJS.ProcessEnv = process.env): {
  label: string;
  socketPath?: string;
  host?: string;
  port?: number;
} {
  const h = env.DOCKER_HOST;
  if (h?.startsWith("tcp://")) {
    const u = new URL(h.replace(/^tcp:/, "http:"));
    return { label: h, host: u.hostname, port: Number(u.port || 2375) };
  }
  const socketPath = h?.startsWith("unix://") ? h.slice("unix://".length) : "/var/run/docker.sock";
  return { label: `unix://${socketPath}`, socketPath };
}

export function pingDocker(env: NodeJS.ProcessEnv = process.env, timeoutMs = 3000): Promise<DockerPing> {
  const ep = dockerEndpoint(env);
  return new Promise((resolve) => {
    const req = request(
      {
        method: "GET",
        path: "/version",
        timeout: timeoutMs,
        ...(ep.socketPath ? { socketPath: ep.socketPath } : { host: ep.host, port: ep.port }),
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          if (text.length < 64 * 1024) text += c;
        });
        res.on("end", () => {
          if (res.statusCode !== 200) return resolve({ endpoint: ep.label, ok: false, error: `HTTP ${res.statusCode}` });
          try {
            const v = JSON.parse(text) as { Version?: string; ApiVersion?: string };
            resolve({ endpoint: ep.label, ok: true, version: v.Version, apiVersion: v.ApiVersion });
          } catch {
            resolve({ endpoint: ep.label, ok: false, error: "not a Docker Engine answer" });
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on("error", (e) => resolve({ endpoint: ep.label, ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end();
  });
}
