/**
 * Every tool call is recorded (time, profile, tool, params, request_id, ok/error). Records are buffered in memory and
 * written to `mcp_requests` through the warehouse writer in batches, so a tool call never waits for a write.
 */
import type { Logger } from "@twilight/core";
import type { Warehouse } from "./warehouse/db.js";

export interface RequestRecord {
  at: string;
  profile: string;
  tool: string;
  params: unknown;
  request_id: string;
  ok: boolean;
  error: string | null;
  duration_ms: number;
}

export interface RequestQuery {
  profile?: string;
  request_id?: string;
  limit: number;
}

export class RequestLog {
  private buffer: RequestRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly wh: Warehouse,
    private readonly opts: { flushMs?: number; log?: Logger } = {},
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), opts.flushMs ?? 500);
    this.timer.unref();
  }

  record(r: RequestRecord): void {
    this.buffer.push(r);
    if (this.buffer.length >= 500) void this.flush().catch(() => undefined);
  }

  /** Write what is buffered. Concurrent flushes queue behind each other. */
  flush(): Promise<void> {
    const next = this.flushing.then(async () => {
      const batch = this.buffer;
      if (batch.length === 0) return;
      this.buffer = [];
      try {
        await this.wh.transaction(async (c) => {
          const tuple = "(?, ?, ?, ?, ?, ?, ?, ?)";
          for (let i = 0; i < batch.length; i += 200) {
            const part = batch.slice(i, i + 200);
            await c.run(
              `INSERT INTO mcp_requests (called_at, profile, tool, params, request_id, ok, error, duration_ms) VALUES ${part.map(() => tuple).join(", ")}`,
              part.flatMap((r) => [
                r.at,
                r.profile,
                r.tool,
                JSON.stringify(r.params ?? {}),
                r.request_id,
                r.ok,
                r.error,
                r.duration_ms,
              ]),
            );
          }
        });
      } catch (e) {
        this.buffer = batch.concat(this.buffer);
        this.opts.log?.error({ err: (e as Error).message }, "could not write the request log; will retry");
        throw e;
      }
    });
    this.flushing = next.catch(() => undefined);
    return next;
  }

  async query(q: RequestQuery): Promise<RequestRecord[]> {
    await this.flush();
    const conds: string[] = [];
    const params: (string | number)[] = [];
    if (q.profile) {
      conds.push("profile = ?");
      params.push(q.profile);
    }
    if (q.request_id) {
      conds.push("request_id = ?");
      params.push(q.request_id);
    }
    const rows = await this.wh.read(
      `SELECT called_at AS "at", profile, tool, params, request_id, ok, error, duration_ms FROM mcp_requests
       ${conds.length ? `WHERE ${conds.join(" AND ")}` : ""} ORDER BY seq DESC LIMIT ?`,
      [...params, q.limit],
    );
    return rows.map((r) => ({ ...(r as unknown as RequestRecord), params: JSON.parse(String(r.params)) }));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush().catch(() => undefined);
  }
}
