import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { FakeDataService } from "./testing/fake-data-service.js";
import { chat, makeProfileDir, type RunningAgent, removeDir, startAgent } from "./testing/harness.js";

const SESSIONS = 50;
const TURNS = 5;
const QUESTIONS = [
  "price of 600519",
  "and its fundamentals for 2024?",
  "what about 000858?",
  "贵州茅台的股价",
  "它2024年的基本面呢",
];

describe(`${SESSIONS} concurrent sessions x ${TURNS} turns on one profile`, () => {
  const svc = new FakeDataService({ tmcp_zeta: "zeta" });
  let a: RunningAgent;
  let dir: string;

  before(async () => {
    await svc.start();
    dir = makeProfileDir({ name: "zeta", mcpUrl: svc.url, pinnedKeys: svc.pinnedKeys() });
    a = await startAgent(dir);
  });

  after(async () => {
    await a?.stop();
    await svc.stop();
    removeDir(dir);
  });

  it("stores every turn once, in order, in its own session; integrity_check ok; no request fails", async () => {
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: SESSIONS }, async (_x, s) => {
        for (let t = 0; t < TURNS; t++) {
          const q = `${QUESTIONS[t]} #s${s}t${t}`;
          const r = await chat(a, { messages: [{ role: "user", content: q }] }, `load-${s}`);
          statuses.push(r.status);
        }
      }),
    );
    assert.equal(statuses.length, SESSIONS * TURNS);
    assert.deepEqual([...new Set(statuses)], [200]);
    await a.stop();
    const db = new Database(join(dir, "state.db"), { readonly: true });
    try {
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
      for (let s = 0; s < SESSIONS; s++) {
        const rows = db
          .prepare("SELECT seq, turn, content FROM messages WHERE session_id = ? AND role = 'user' ORDER BY seq")
          .all(`load-${s}`) as { seq: number; turn: number; content: string }[];
        assert.deepEqual(
          rows.map((r) => [r.turn, r.content]),
          QUESTIONS.map((q, t) => [t + 1, `${q} #s${s}t${t}`]),
        );
        const seqs = db.prepare("SELECT seq FROM messages WHERE session_id = ? ORDER BY seq").all(`load-${s}`) as {
          seq: number;
        }[];
        assert.deepEqual(
          seqs.map((r) => r.seq),
          seqs.map((_r, i) => i + 1),
        );
        const answers = db
          .prepare("SELECT count(*) AS n FROM messages WHERE session_id = ? AND role = 'assistant' AND tool_calls IS NULL")
          .get(`load-${s}`) as { n: number };
        assert.equal(answers.n, TURNS);
      }
      const foreign = db.prepare("SELECT count(*) AS n FROM messages WHERE content LIKE '%#s%' AND role = 'user'").get() as {
        n: number;
      };
      assert.equal(foreign.n, SESSIONS * TURNS);
      const bleed = db
        .prepare(
          "SELECT count(*) AS n FROM messages WHERE role = 'user' AND content NOT LIKE '%#s' || substr(session_id, 6) || 't%'",
        )
        .get() as { n: number };
      assert.equal(bleed.n, 0, "every user message sits in its own session");
    } finally {
      db.close();
    }
  });
});
