/**
 * The cite gate: every tool result that carries a cite is verified with core's verifyCite before the model sees it.
 * - Keys are pinned, never fetched: `cite.keys_file` (written by the fleet where the tenant cannot change it; re-read when
 *   it changes, no restart) plus any `cite.trusted_keys` in config.yaml. An unknown key id is refused; a key past its
 *   `not_after` is refused (`expired_key`). Nothing is ever fetched from the MCP endpoint, whoever answers there.
 * - A cite is bound to the call: its `api`/`params` must be what core's citeBinding makes of the tool and the arguments
 *   the agent sent (`wrong_call` otherwise), so a valid cite of this profile cannot answer another call.
 * A refusal is counted (`hermes_cite_verification_failures_total{reason}`), logged with its reason, and the datum dropped.
 */

import type { KeyObject } from "node:crypto";
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import {
  type CiteBinding,
  type CiteEnvelope,
  type CiteFailureReason,
  citeBinding,
  importPublicCiteKey,
  isMarketTool,
  type Logger,
  type PublicCiteKey,
  parsePinnedKeys,
  verifyCite,
} from "@twilight/core";
import type { AgentMetrics } from "./metrics.js";
import { splitToolName, type ToolResult } from "./tools.js";

/** The data service's `_meta` note while its warehouse is still being seeded: shown to the user, never a figure. */
export interface WarehouseNote {
  state: "seeding";
  as_of: string;
  days_done?: number;
  days_total?: number | null;
}

const WAREHOUSE_META = "twilight/warehouse";

export function warehouseNoteOf(result: ToolResult): WarehouseNote | undefined {
  const w = result.meta?.[WAREHOUSE_META] as Partial<WarehouseNote> | undefined;
  if (!w || w.state !== "seeding" || typeof w.as_of !== "string" || !/^\d{8}$/.test(w.as_of)) return undefined;
  return {
    state: "seeding",
    as_of: w.as_of,
    ...(typeof w.days_done === "number" ? { days_done: w.days_done } : {}),
    ...(typeof w.days_total === "number" || w.days_total === null ? { days_total: w.days_total } : {}),
  };
}

export type CheckedResult =
  | { kind: "plain"; text: string; isError: boolean }
  | { kind: "verified"; envelope: CiteEnvelope; warehouse?: WarehouseNote }
  | { kind: "refused"; reason: CiteFailureReason; message: string };

export interface CiteGuardOptions {
  profile: string;
  /** Path of the pinned keys file (`{"keys":[{key_id, x, not_after?}]}`). */
  keysFile?: string | undefined;
  /** Keys pinned inline in config.yaml (no expiry). */
  trustedKeys?: PublicCiteKey[] | undefined;
  maxAgeMs: number;
  metrics: AgentMetrics;
  log: Logger;
  now?: () => number;
}

/** The pinned keys file, re-read when its stamp changes; a file that does not parse keeps the last good set. */
class PinnedKeyFile {
  private stamp = "";
  keys = new Map<string, KeyObject>();
  notAfter = new Map<string, number>();

  constructor(
    private readonly path: string,
    private readonly log: Logger,
  ) {}

  reloadIfChanged(): void {
    let stamp: string;
    let fresh = false;
    try {
      const st = statSync(this.path);
      stamp = `${st.mtimeMs}:${st.ino}:${st.size}:${st.ctimeMs}`;
      // two rewrites within the file system's timestamp granularity can share a stamp: re-read a recent file
      fresh = Date.now() - st.mtimeMs < 2_000;
    } catch {
      stamp = "missing";
    }
    if (stamp === this.stamp && !fresh) return;
    const first = this.stamp === "";
    this.stamp = stamp;
    if (stamp === "missing") {
      this.log.error({ keys_file: this.path }, "cite keys file is missing; keeping the keys loaded before");
      return;
    }
    try {
      const next = parsePinnedKeys(readFileSync(this.path, "utf8"));
      this.keys = next.keys;
      this.notAfter = next.notAfter;
      if (first || !fresh) this.log.info({ keys_file: this.path, keys: [...next.keys.keys()] }, "cite keys loaded");
    } catch (e) {
      this.log.error(
        { keys_file: this.path, err: (e as Error).message },
        "cite keys file is invalid; keeping the keys loaded before",
      );
    }
    if (first && writable(this.path))
      this.log.warn({ keys_file: this.path }, "cite keys file is writable by this process: it must be read-only to the profile");
  }
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export class CiteGuard {
  private readonly inline = new Map<string, KeyObject>();
  private readonly file: PinnedKeyFile | undefined;

  constructor(private readonly opts: CiteGuardOptions) {
    for (const k of opts.trustedKeys ?? []) {
      try {
        this.inline.set(k.key_id, importPublicCiteKey(k));
      } catch (e) {
        opts.log.warn({ key_id: k.key_id, err: (e as Error).message }, "ignoring an unusable cite key in config.yaml");
      }
    }
    if (opts.keysFile) {
      this.file = new PinnedKeyFile(opts.keysFile, opts.log);
      this.file.reloadIfChanged();
    }
  }

  get keyIds(): string[] {
    return [...this.keys().keys()];
  }

  private keys(): Map<string, KeyObject> {
    this.file?.reloadIfChanged();
    if (!this.file) return this.inline;
    if (!this.inline.size) return this.file.keys;
    return new Map([...this.inline, ...this.file.keys]);
  }

  /** Kept for the runtime's lifecycle; keys are read on use, so there is nothing to start. */
  start(): void {}

  stop(): void {}

  /** Classify and verify one tool result. `tool` is the qualified name the model called, `args` what was sent. */
  async check(tool: string, args: Record<string, unknown>, result: ToolResult): Promise<CheckedResult> {
    if (result.isError) return { kind: "plain", text: result.text, isError: true };
    const envelope = envelopeOf(result);
    const bare = splitToolName(tool)?.tool ?? tool;
    const market = isMarketTool(bare);
    if (envelope === undefined) {
      // The data service cites every datum; a market result without a cite is not data we may use.
      if (market) return this.refuse(tool, "malformed", "the result carries no cite");
      return { kind: "plain", text: result.text, isError: false };
    }
    let expect: CiteBinding;
    try {
      if (!market) throw new Error(`${bare} is not a data-service tool, so its cite answers no call we made`);
      expect = citeBinding(bare, args);
    } catch (e) {
      return this.refuse(tool, "wrong_call", (e as Error).message, envelope);
    }
    const keys = this.keys();
    const r = verifyCite(envelope, {
      keys,
      ...(this.file ? { notAfter: this.file.notAfter } : {}),
      profile: this.opts.profile,
      maxAgeMs: this.opts.maxAgeMs,
      expect,
      ...(this.opts.now ? { now: this.opts.now } : {}),
    });
    if (r.ok) {
      const warehouse = warehouseNoteOf(result);
      return { kind: "verified", envelope: r.envelope, ...(warehouse ? { warehouse } : {}) };
    }
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
