/**
 * The fleet's view of the data service's freshness: `GET <url>/health` (mcp-tushare's `data_lag.open_days_behind`).
 * The daemon probes it every minute and calls `recordDataService(metrics, r.up, r.lagOpenDays)`.
 */

export interface DataServiceProbe {
  up: boolean;
  /** Open trading days the newest daily bar is behind; undefined when unknown (no calendar yet, or no answer). */
  lagOpenDays?: number;
  status?: string;
}

/** Read the fields we need from a /health body (pure; tolerant of extra fields, strict about types). */
export function parseDataServiceHealth(body: unknown): DataServiceProbe {
  const b = body as { status?: unknown; data_lag?: { open_days_behind?: unknown } } | null;
  const behind = b?.data_lag?.open_days_behind;
  return {
    up: true,
    lagOpenDays: typeof behind === "number" && Number.isFinite(behind) && behind >= 0 ? behind : undefined,
    status: typeof b?.status === "string" ? b.status : undefined,
  };
}

export async function probeDataService(baseUrl: string, timeoutMs = 3000): Promise<DataServiceProbe> {
  try {
    const res = await fetch(new URL("/health", baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return { up: false };
    return parseDataServiceHealth(await res.json());
  } catch {
    return { up: false };
  }
}
