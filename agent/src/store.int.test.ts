import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { ConversationStore } from "./store.js";

describe("conversation store (SQLite, WAL)", () => {
  const dir = mkdtempSync(join(tmpdir(), "twl-store-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "state.db");

  it("stores a turn atomically with sequential seq and turn numbers", () => {
    const s = new ConversationStore(path, "p1");
    try {
      assert.equal(
        s.appendTurn({
          sessionId: "a",
          model: "m",
          messages: [
            { role: "user", content: "q1" },
            { role: "assistant", content: "a1" },
          ],
        }),
        1,
      );
      const turn2 = s.appendTurn({
        sessionId: "a",
        model: "m",
        messages: [
          { role: "user", content: "q2" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "c", type: "function", function: { name: "t", arguments: "{}" } }],
          },
          { role: "tool", tool_call_id: "c", name: "t", content: "{}" },
          { role: "assistant", content: "a2", citations: [{ ref: 1 }] },
        ],
      });
      assert.equal(turn2, 2);
      const h = s.history("a");
      assert.deepEqual(
        h.map((m) => [m.seq, m.turn, m.role]),
        [
          [1, 1, "user"],
          [2, 1, "assistant"],
          [3, 2, "user"],
          [4, 2, "assistant"],
          [5, 2, "tool"],
          [6, 2, "assistant"],
        ],
      );
      assert.equal(h[3]?.tool_calls?.[0]?.id, "c");
      assert.deepEqual(h[5]?.citations, [{ ref: 1 }]);
      const row = s.getSession("a");
      assert.deepEqual([row?.turn_count, row?.message_count, row?.title], [2, 6, "q1"]);
      assert.equal(s.integrityCheck(), "ok");
      assert.equal(new Database(path, { readonly: true }).pragma("journal_mode", { simple: true }), "wal");
    } finally {
      s.close();
    }
  });

  it("a failed turn leaves nothing behind", () => {
    const s = new ConversationStore(path, "p1");
    try {
      assert.throws(() =>
        s.appendTurn({
          sessionId: "b",
          model: "m",
          messages: [
            { role: "user", content: "q" },
            { role: "robot" as "user", content: "x" },
          ],
        }),
      );
      assert.equal(s.getSession("b"), undefined);
      assert.deepEqual(s.history("b"), []);
    } finally {
      s.close();
    }
  });

  it("a state.db read as another profile shows none of the first profile's sessions and refuses their ids", () => {
    const s = new ConversationStore(path, "p2");
    try {
      assert.equal(s.getSession("a"), undefined);
      assert.deepEqual(s.history("a"), []);
      assert.deepEqual(s.listSessions({ limit: 10, offset: 0 }), []);
      assert.throws(() => s.appendTurn({ sessionId: "a", model: "m", messages: [{ role: "user", content: "hi" }] }), /not found/);
    } finally {
      s.close();
    }
  });
});
