import assert from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { test } from "node:test";
import { DomainError, HTTP_STATUS, NotLeader, Unavailable } from "./errors.js";
import { sendError } from "./http.js";

/** Just what sendError touches of a response. */
function fakeResponse() {
  const headers: Record<string, string> = {};
  const out = { status: 0, body: "", headers };
  const res = {
    headersSent: false,
    setHeader: (k: string, v: string) => {
      headers[k.toLowerCase()] = v;
    },
    writeHead: (status: number, h: Record<string, string | number>) => {
      out.status = status;
      for (const [k, v] of Object.entries(h)) headers[k.toLowerCase()] = String(v);
    },
    end: (text: string) => {
      out.body = text;
    },
  };
  return { res: res as unknown as ServerResponse, out };
}

test("NotLeader: 503, retryable, Retry-After from its wait, the leader named in the hint and details", () => {
  const e = new NotLeader({ leaderUrl: "http://10.0.0.2:8700", retryAfterS: 2 });
  assert.equal(e.code, "NOT_LEADER");
  assert.equal(HTTP_STATUS[e.code], 503);
  assert.equal(e.retryable, true);
  const { res, out } = fakeResponse();
  sendError(res, e);
  assert.equal(out.status, 503);
  assert.equal(out.headers["retry-after"], "2");
  const body = JSON.parse(out.body) as { error: { code: string; hint: string; details: Record<string, unknown> } };
  assert.equal(body.error.code, "NOT_LEADER");
  assert.match(body.error.hint, /http:\/\/10\.0\.0\.2:8700/);
  assert.equal(body.error.details.leader_url, "http://10.0.0.2:8700");
  // taking over: no leader to name, the same answer otherwise
  assert.match(new NotLeader({ takingOver: true }).message, /taking over/);
});

test("Retry-After only on a 503 that says how long; other errors carry none", () => {
  for (const e of [
    new Unavailable("down"),
    new DomainError("UPSTREAM", "x", { details: { retry_after_seconds: 5 } }),
    new DomainError("CONFLICT", "busy"),
  ]) {
    const { res, out } = fakeResponse();
    sendError(res, e);
    assert.equal(out.headers["retry-after"], undefined, e.code);
  }
});
