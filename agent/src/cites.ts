/**
 * The cite gate: every tool result that carries a cite is verified with core's verifyCite before the model sees it.
 * Trusted keys come from `cite.trusted_keys` (pinned) and/or `cite.keys_url` (the data service's published keys, fetched
 * at start, every `refresh_seconds`, and once more when an unknown key id shows up - so a key rotation is picked up).
 * A refusal is counted (`hermes_cite_verification_failures_total{reason}`), logged with its reason, and the datum dropped.
 */
import type { KeyObject } from "node:crypto";
import {
  type CiteEnvelope,
  type CiteFailureReason,
  importPublicCiteKey,
  type Logger,
  type PublicCiteKey,
  TOOLS,
  verifyCite,
} from "@twilight/core";
import type { AgentMetrics } from "./metrics.js";
import { splitToolName, type ToolResult } from "./tools.js";

export type CheckedResult =
  | { kind: "plain"; text: string; isError: boolean }
  | { kind: "verified"; envelope: CiteEnvelope }
  | { kind: "refused"; reason: CiteFailureReason; message: string };

export interface CiteGuardOptions {
  profile: string;
  keysUrl?: string | undefined;
  trustedKeys?: PublicCiteKey[] | undefined;
  maxAgeMs: number;
  refreshMs?: number;
  metrics: AgentMetrics;
  log: Logger;
  fetchImpl?: typeof fetch;
  now?: () => number;
}

const MARKET_TOOLS = new Set<string>(Object.values(TOOLS));
const MIN_REFETCH_MS = 2_000;

export class CiteGuard {
  private keys = new Map<string, KeyObject>();
  private lastFetch = 0;
  private fetching: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: CiteGuardOptions) {
    this.addKeys(opts.trustedKeys ?? [], "config");
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  private addKeys(list: PublicCiteKey[], from: string): void {
    for (const k of list) {
      try {
        this.keys.set(k.key_id, importPublicCiteKey(k));
      } catch (e) {
        this.opts.log.warn({ key_id: k.key_id, from, err: (e as Error).message }, "ignoring an unusable cite key");
      }
    }
  }

  /** Fetch `keys_url` (no-op without one). Failures are logged; known keys stay trusted. */
  async refresh(): Promise<void> {
    const url = this.opts.keysUrl;
    if (!url) return;
    this.fetching ??= (async () => {
      this.lastFetch = Date.now();
      try {
        const res = await (this.opts.fetchImpl ?? fetch)(url, { signal: AbortSignal.timeout(5_000) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const body = (await res.json()) as { keys?: PublicCiteKey[] };
        if (!Array.isArray(body.keys)) throw new Error("response has no keys array");
        this.addKeys(body.keys, "keys_url");
        this.opts.log.info({ keys: this.keys.size }, "cite keys loaded");
      } catch (e) {
        this.opts.log.warn({ url, err: (e as Error).message }, "could not fetch cite keys");
      } finally {
        this.fetching = null;
      }
    })();
    return this.fetching;
  }

  start(): void {
    void this.refresh();
    const every = this.opts.refreshMs ?? 0;
    if (this.opts.keysUrl && every > 0) {
      this.timer = setInterval(() => void this.refresh(), every);
      this.timer.unref();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private verify(envelope: unknown) {
    return verifyCite(envelope, {
      keys: this.keys,
      profile: this.opts.profile,
      maxAgeMs: this.opts.maxAgeMs,
      ...(this.opts.now ? { now: this.opts.now } : {}),
    });
  }

  /** Classify and verify one tool result. `tool` is the qualified name the model called. */
  async check(tool: string, result: ToolResult): Promise<CheckedResult> {
    if (result.isError) return { kind: "plain", text: result.text, isError: true };
    const envelope = envelopeOf(result);
    const bare = splitToolName(tool)?.tool ?? tool;
    if (envelope === undefined) {
      // The data service cites every datum; a market result without a cite is not data we may use.
      if (MARKET_TOOLS.has(bare)) return this.refuse(tool, "malformed", "the result carries no cite");
      return { kind: "plain", text: result.text, isError: false };
    }
    if (this.fetching) await this.fetching;
    let r = this.verify(envelope);
    if (!r.ok && r.reason === "unknown_key" && this.opts.keysUrl && Date.now() - this.lastFetch > MIN_REFETCH_MS) {
      await this.refresh();
      r = this.verify(envelope);
    }
    if (r.ok) return { kind: "verified", envelope: r.envelope };
    return this.refuse(tool, r.reason, r.message, envelope);
  }

  private refuse(tool: string, reason: CiteFailureReason, message: string, envelope?: unknown): CheckedResult {
    this.opts.metrics.citeFailures.inc({ profile: this.opts.profile, reason });
    const cite = (envelope as { cite?: { request_id?: unknown; key_id?: unknown } } | undefined)?.cite;
    this.opts.log.warn(
      { tool, reason, request_id: cite?.request_id, key_id: cite?.key_id, detail: message },
      "cite verification failed; datum dropped",
    );
    return { kind: "refused", reason, message };
  }
}

/** The envelope of a result: `structuredContent` when it has a cite, else the text when it parses to one. */
export function envelopeOf(result: ToolResult): unknown {
  const s = result.structured;
  if (s && typeof s === "object" && "cite" in s) return s;
  const t = result.text.trim();
  if (!t.startsWith("{")) return undefined;
  try {
    const j = JSON.parse(t) as unknown;
    return j && typeof j === "object" && "cite" in j ? j : undefined;
  } catch {
    return undefined;
  }
}
