/**
 * Run Debian's `prometheus` for a test: on a loopback port, with its data in a directory the caller owns, stopped by
 * its pid. Also a small client of Prometheus' HTTP API (instant queries, targets, alerts) with bounded waits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { freePort } from "@twilight/core";

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  url: string;
  pid: number;
  /** Instant query; throws when Prometheus reports an error. */
  query(expr: string): Promise<PromSample[]>;
  /** Poll `check` every 250 ms until it returns a value (not undefined) or `timeoutMs` passes. */
  waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs?: number): Promise<T>;
  alerts(): Promise<Array<{ labels: Record<string, string>; state: string }>>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
  /** The last lines of its log (for failure messages). */
  log(): string;
}

export async function startPrometheus(o: { dir: string; port?: number; bin?: string }): Promise<RunningPrometheus> {
  const port = o.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    o.bin ?? "prometheus",
    [
      `--config.file=${join(o.dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(o.dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--storage.tsdb.retention.time=1h",
      "--log.level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let logText = "";
  child.stderr?.on("data", (b: Buffer) => {
    logText = (logText + b.toString("utf8")).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let gone = false;
  void exited.then(() => {
    gone = true;
  });

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(url + path, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== "success") throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  };
  const waitFor = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      if (gone) throw new Error(`prometheus exited while waiting for ${what}:\n${logText}`);
      try {
        const v = await check();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(
      `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ""}\n${logText}`,
    );
  };
  const running: RunningPrometheus = {
    url,
    pid: child.pid ?? -1,
    query: async (expr) => (await api<{ result: PromSample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`)).result,
    waitFor,
    alerts: async () =>
      (await api<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>("/api/v1/alerts")).alerts,
    async stop() {
      if (gone) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
    log: () => logText,
  };
  try {
    await waitFor("prometheus to be ready", async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined));
  } catch (err) {
    await running.stop();
    throw err;
  }
  return running;
}

export { freePort };
