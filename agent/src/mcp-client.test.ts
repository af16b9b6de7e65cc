import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SseParser } from "./mcp-client.js";

describe("SseParser (event stream framing)", () => {
  it("joins multi-line data, names events, skips comments, and waits for the blank line", () => {
    const p = new SseParser();
    assert.deepEqual(p.push(': keep-alive\n\nid: 7\nevent: message\ndata: {"a":\ndata: 1}\n'), []);
    assert.deepEqual(p.push("\n"), [{ event: "message", data: '{"a":\n1}', id: "7" }]);
  });

  it("takes any line ending, including \\r\\n split across chunks", () => {
    const p = new SseParser();
    assert.deepEqual(p.push("data: x\r"), []);
    assert.deepEqual(p.push("\n\r"), []);
    assert.deepEqual(p.push("\ndata:y\r\rdata: z\n\n"), [
      { event: "message", data: "x" },
      { event: "message", data: "y" },
      { event: "message", data: "z" },
    ]);
  });

  it("defaults the event name to message and ignores events without data", () => {
    const p = new SseParser();
    assert.deepEqual(p.push("event: ping\n\nevent: other\ndata: 2\n\n"), [{ event: "other", data: "2" }]);
  });
});
