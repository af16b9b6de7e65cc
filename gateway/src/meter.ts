/**
 * Usage metering in the gateway's own SQLite database (`usage.db`): prompt/completion tokens, requests, cost (millifen:
 * integers, so sums are exact) per profile, per UTC day, per model; refusals per profile, day and limit. WAL mode, one
 * upsert per finished request.
 */
import { chmodSync } from "node:fs";
import Database from "better-sqlite3";
import type { Totals } from "./limits.js";

export interface UsageRow {
  profile: string;
  day: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  spend_fen: number;
  limited: number;
}

export class Meter {
  private readonly db: Database.Database;
  private readonly upsert: Database.Statement;
  private readonly upsertLimited: Database.Statement;

  constructor(path: string) {
    this.db = new Database(path);
    if (path !== ":memory:") chmodSync(path, 0o600);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS model_usage (
        profile TEXT NOT NULL, day TEXT NOT NULL, model TEXT NOT NULL,
        requests INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0, spend_millifen INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (profile, day, model)
      );
      CREATE TABLE IF NOT EXISTS model_limited (
        profile TEXT NOT NULL, day TEXT NOT NULL, limit_name TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (profile, day, limit_name)
      );`);
    this.upsert = this.db.prepare(`
      INSERT INTO model_usage (profile, day, model, requests, prompt_tokens, completion_tokens, spend_millifen)
      VALUES (?, ?, ?, 1, ?, ?, ?)
      ON CONFLICT (profile, day, model) DO UPDATE SET requests = requests + 1,
        prompt_tokens = prompt_tokens + excluded.prompt_tokens, completion_tokens = completion_tokens + excluded.completion_tokens,
        spend_millifen = spend_millifen + excluded.spend_millifen`);
    this.upsertLimited = this.db.prepare(`
      INSERT INTO model_limited (profile, day, limit_name, count) VALUES (?, ?, ?, 1)
      ON CONFLICT (profile, day, limit_name) DO UPDATE SET count = count + 1`);
  }

  record(u: { profile: string; day: string; model: string; prompt: number; completion: number; millifen: number }): void {
    this.upsert.run(u.profile, u.day, u.model, u.prompt, u.completion, u.millifen);
  }

  limited(profile: string, day: string, limit: string): void {
    this.upsertLimited.run(profile, day, limit);
  }

  /** What the limiter needs at first sight of a profile: today's tokens and this month's spend. */
  totals(profile: string, day: string, month: string): Totals {
    const d = this.db
      .prepare("SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS n FROM model_usage WHERE profile = ? AND day = ?")
      .get(profile, day) as { n: number };
    const m = this.db
      .prepare("SELECT COALESCE(SUM(spend_millifen), 0) AS n FROM model_usage WHERE profile = ? AND substr(day, 1, 7) = ?")
      .get(profile, month) as { n: number };
    return { dayTokens: d.n, monthMillifen: m.n };
  }

  /** Per profile per day, from `since` (YYYY-MM-DD, inclusive), optionally one profile. */
  usage(o: { profile?: string; since?: string } = {}): UsageRow[] {
    const since = o.since ?? "0000-00-00";
    const rows = this.db
      .prepare(`
        SELECT u.profile, u.day, SUM(u.requests) AS requests, SUM(u.prompt_tokens) AS prompt_tokens,
          SUM(u.completion_tokens) AS completion_tokens, SUM(u.spend_millifen) AS millifen,
          COALESCE((SELECT SUM(count) FROM model_limited l WHERE l.profile = u.profile AND l.day = u.day), 0) AS limited
        FROM model_usage u WHERE u.day >= ? AND (? IS NULL OR u.profile = ?)
        GROUP BY u.profile, u.day ORDER BY u.profile, u.day`)
      .all(since, o.profile ?? null, o.profile ?? null) as (Omit<UsageRow, "spend_fen"> & { millifen: number })[];
    return rows.map(({ millifen, ...r }) => ({ ...r, spend_fen: millifen / 1000 }));
  }

  close(): void {
    this.db.close();
  }
}
