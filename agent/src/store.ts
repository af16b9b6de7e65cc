/**
 * Conversation store in `$HERMES_HOME/state.db` (SQLite, WAL). A turn (the user's message, any tool calls and results,
 * and the answer) is written in one transaction, so a turn is either stored whole, once, in order, or not at all.
 * Every row names its profile and every query filters by it: a state.db copied to another profile shows nothing there.
 */
import { randomUUID } from "node:crypto";
import { NotFound } from "@twilight/core";
import Database from "better-sqlite3";
import type { ChatMessage, ToolCall } from "./model/types.js";

const SCHEMA_VERSION = 1;

const MIGRATION_1 = `
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  profile TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT 'api_server',
  model TEXT,
  title TEXT,
  turn_count INTEGER NOT NULL DEFAULT 0,
  message_count INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  turn INTEGER NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
  content TEXT,
  tool_calls TEXT,
  tool_call_id TEXT,
  name TEXT,
  citations TEXT,
  created_at TEXT NOT NULL,
  UNIQUE (session_id, seq)
);
CREATE INDEX IF NOT EXISTS messages_session ON messages (session_id, seq);
CREATE INDEX IF NOT EXISTS sessions_updated ON sessions (profile, updated_at);
`;

export interface SessionRow {
  id: string;
  profile: string;
  source: string;
  model: string | null;
  title: string | null;
  turn_count: number;
  message_count: number;
  created_at: string;
  updated_at: string;
}

export interface StoredMessage extends ChatMessage {
  seq: number;
  turn: number;
  citations?: unknown[];
  created_at: string;
}

interface MessageRow {
  seq: number;
  turn: number;
  role: ChatMessage["role"];
  content: string | null;
  tool_calls: string | null;
  tool_call_id: string | null;
  name: string | null;
  citations: string | null;
  created_at: string;
}

export interface NewMessage extends ChatMessage {
  citations?: unknown[];
}

export const SESSION_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function newSessionId(): string {
  return `sess_${randomUUID().replace(/-/g, "")}`;
}

export class ConversationStore {
  private readonly db: Database.Database;
  private readonly q: ReturnType<ConversationStore["prepare"]>;

  constructor(
    path: string,
    private readonly profile: string,
  ) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    this.migrate();
    this.q = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      session: db.prepare("SELECT * FROM sessions WHERE id = ? AND profile = ?"),
      foreign: db.prepare("SELECT 1 FROM sessions WHERE id = ? AND profile <> ?"),
      history: db.prepare(
        `SELECT m.seq, m.turn, m.role, m.content, m.tool_calls, m.tool_call_id, m.name, m.citations, m.created_at
         FROM messages m JOIN sessions s ON s.id = m.session_id
         WHERE m.session_id = ? AND s.profile = ? ORDER BY m.seq`,
      ),
      createSession: db.prepare(
        "INSERT INTO sessions (id, profile, model, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      insertMessage: db.prepare(
        `INSERT INTO messages (session_id, seq, turn, role, content, tool_calls, tool_call_id, name, citations, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      touchSession: db.prepare("UPDATE sessions SET turn_count = ?, message_count = ?, model = ?, updated_at = ? WHERE id = ?"),
      list: db.prepare("SELECT * FROM sessions WHERE profile = ? ORDER BY updated_at DESC, id LIMIT ? OFFSET ?"),
      count: db.prepare("SELECT count(*) AS n FROM sessions WHERE profile = ?"),
    };
  }

  private migrate(): void {
    const v = this.db.pragma("user_version", { simple: true }) as number;
    if (v < 1) {
      this.db.exec(MIGRATION_1);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    }
  }

  getSession(id: string): SessionRow | undefined {
    return this.q.session.get(id, this.profile) as SessionRow | undefined;
  }

  /** True when the id exists for ANOTHER profile in this file (never expected; refused rather than reused). */
  private foreign(id: string): boolean {
    return this.q.foreign.get(id, this.profile) !== undefined;
  }

  history(id: string): StoredMessage[] {
    const rows = this.q.history.all(id, this.profile) as MessageRow[];
    return rows.map(toStored);
  }

  /** Append one turn atomically; creates the session on its first turn. Returns the turn number. */
  appendTurn(opts: { sessionId: string; model: string; messages: NewMessage[] }): number {
    const tx = this.db.transaction((): number => {
      const now = new Date().toISOString();
      let s = this.getSession(opts.sessionId);
      if (!s) {
        if (this.foreign(opts.sessionId)) throw new NotFound("session", opts.sessionId);
        const firstUser = opts.messages.find((m) => m.role === "user")?.content ?? null;
        this.q.createSession.run(opts.sessionId, this.profile, opts.model, firstUser ? firstUser.slice(0, 80) : null, now, now);
        s = this.getSession(opts.sessionId) as SessionRow;
      }
      const turn = s.turn_count + 1;
      const insert = this.q.insertMessage;
      let seq = s.message_count;
      for (const m of opts.messages) {
        seq++;
        insert.run(
          opts.sessionId,
          seq,
          turn,
          m.role,
          m.content,
          m.tool_calls?.length ? JSON.stringify(m.tool_calls) : null,
          m.tool_call_id ?? null,
          m.name ?? null,
          m.citations?.length ? JSON.stringify(m.citations) : null,
          now,
        );
      }
      this.q.touchSession.run(turn, seq, opts.model, now, opts.sessionId);
      return turn;
    });
    return tx.immediate();
  }

  listSessions(opts: { limit: number; offset: number }): SessionRow[] {
    return this.q.list.all(this.profile, opts.limit, opts.offset) as SessionRow[];
  }

  countSessions(): number {
    return (this.q.count.get(this.profile) as { n: number }).n;
  }

  integrityCheck(): string {
    return this.db.pragma("integrity_check", { simple: true }) as string;
  }

  close(): void {
    if (!this.db.open) return;
    this.db.pragma("wal_checkpoint(TRUNCATE)");
    this.db.close();
  }
}

function toStored(r: MessageRow): StoredMessage {
  const m: StoredMessage = { seq: r.seq, turn: r.turn, role: r.role, content: r.content, created_at: r.created_at };
  if (r.tool_calls) m.tool_calls = JSON.parse(r.tool_calls) as ToolCall[];
  if (r.tool_call_id) m.tool_call_id = r.tool_call_id;
  if (r.name) m.name = r.name;
  if (r.citations) m.citations = JSON.parse(r.citations) as unknown[];
  return m;
}
