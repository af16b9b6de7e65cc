/** Long operations over HTTP: progress as NDJSON lines when the client asks for it, else one JSON answer. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { DomainError, HTTP_STATUS, type Logger, sendError, sendJson } from "@twilight/core";
import type { Progress } from "../workload/context.js";

export const NDJSON = "application/x-ndjson";

export function wantsStream(req: IncomingMessage): boolean {
  return String(req.headers.accept ?? "").includes(NDJSON);
}

export async function respondOp<T>(
  req: IncomingMessage,
  res: ServerResponse,
  op: (progress: Progress) => Promise<T>,
  opts: { status?: (r: T) => number; log?: Logger } = {},
): Promise<void> {
  if (!wantsStream(req)) {
    const r = await op(() => undefined);
    sendJson(res, opts.status?.(r) ?? 200, r);
    return;
  }
  const t0 = performance.now();
  res.writeHead(200, { "content-type": NDJSON, "cache-control": "no-store" });
  const line = (o: unknown) => res.write(`${JSON.stringify(o)}\n`);
  try {
    const r = await op((step, detail) => line({ progress: { step, ms: Math.round(performance.now() - t0), ...(detail ?? {}) } }));
    line({ result: r, status: opts.status?.(r) ?? 200 });
  } catch (e) {
    if (e instanceof DomainError) line({ error: e.toJSON(), status: HTTP_STATUS[e.code] });
    else {
      opts.log?.error({ err: e }, "operation failed");
      line({ error: { code: "INTERNAL", message: (e as Error).message }, status: 500 });
    }
  }
  res.end();
}

export { sendError };
