/** The front door against real HTTP upstreams on loopback: proxying, streaming, holding and releasing, bounds. */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "@twilight/core";
import { FrontDoor } from "./frontdoor.js";

const log = createLogger("test", { level: "silent" });
let a: Server;
let b: Server;
let door: Server;
let fd: FrontDoor;
let target = 0;
const ports = { a: 0, b: 0, door: 0 };

function upstream(tag: string): Server {
  return createServer((req, res) => {
    if (req.url?.startsWith("/stream")) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      let i = 0;
      const t = setInterval(() => {
        res.write(`data: ${tag}-${i}\n\n`);
        if (++i === 3) {
          clearInterval(t);
          res.end("data: [DONE]\n\n");
        }
      }, 30);
      return;
    }
    if (req.url?.startsWith("/silent")) return; // never answers
    if (req.url?.startsWith("/slow")) {
      setTimeout(() => res.end(tag), 200);
      return;
    }
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c;
    });
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json", "x-upstream": tag });
      res.end(JSON.stringify({ tag, url: req.url, auth: req.headers.authorization ?? null, body }));
    });
  });
}

async function listen(s: Server): Promise<number> {
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return (s.address() as AddressInfo).port;
}

before(async () => {
  a = upstream("a");
  b = upstream("b");
  ports.a = await listen(a);
  ports.b = await listen(b);
  target = ports.a;
  const me = process.getuid?.() ?? 0;
  fd = new FrontDoor({
    log,
    resolve: async (p) =>
      p === "gone"
        ? { down: "stopped" }
        : p === "nobody"
          ? { unknown: true }
          : { port: target, owner: p === "squatted" ? me + 1 : me },
    holdDeadlineMs: 1000,
    maxHeld: 3,
    upstreamIdleMs: 1500,
  });
  door = createServer((req, res) => {
    const m = /^\/p\/([^/]+)(\/.*)?$/.exec(req.url ?? "");
    void fd.handle(m?.[1] as string, m?.[2] ?? "/", req, res);
  });
  ports.door = await listen(door);
});
after(() => {
  for (const s of [a, b, door]) s.closeAllConnections();
  for (const s of [a, b, door]) s.close();
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await sleep(5);
  assert.ok(cond(), "condition not reached in 2 s");
}

const url = (p: string) => `http://127.0.0.1:${ports.door}${p}`;

test("proxies method, path, query, headers and body", async () => {
  const r = await fetch(url("/p/x/v1/chat?y=1"), { method: "POST", headers: { authorization: "Bearer k" }, body: "hello" });
  assert.equal(r.headers.get("x-upstream"), "a");
  assert.deepEqual(await r.json(), { tag: "a", url: "/v1/chat?y=1", auth: "Bearer k", body: "hello" });
});

test("streams responses as they come", async () => {
  const r = await fetch(url("/p/x/stream"));
  const reader = (r.body as ReadableStream<Uint8Array>).getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /data: a-0/);
  let rest = "";
  for (;;) {
    const c = await reader.read();
    if (c.done) break;
    rest += new TextDecoder().decode(c.value);
  }
  assert.match(rest, /\[DONE\]/);
});

test("held requests wait and are released to the new home", async () => {
  fd.hold("x");
  const pending = fetch(url("/p/x/v1/models")).then((r) => r.json() as Promise<{ tag: string }>);
  await until(() => fd.heldCount("x") === 1);
  await sleep(100);
  target = ports.b;
  fd.release("x");
  assert.equal((await pending).tag, "b");
  assert.ok((fd.maxHeldMs.get("x") ?? 0) >= 95);
  target = ports.a;
});

test("holding is bounded: a deadline and a queue limit give clear errors", async () => {
  fd.hold("y");
  const many = await Promise.all([1, 2, 3, 4].map(() => fetch(url("/p/y/v1/models"))));
  const codes = many.map((r) => r.status).sort();
  assert.deepEqual(codes, [503, 504, 504, 504]);
  fd.release("y");
});

test("drain waits for in-flight requests", async () => {
  const slow = fetch(url("/p/x/slow"));
  await until(() => fd.inFlight("x") === 1);
  assert.equal(await fd.drain("x", 2000), true);
  assert.equal(fd.inFlight("x"), 0);
  assert.equal(await (await slow).text(), "a");
  assert.equal(await fd.drain("x", 10), true);
});

test("a stopped profile and a dead upstream give clear errors, not hangs", async () => {
  const r = await fetch(url("/p/gone/health"));
  assert.equal(r.status, 503);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /is stopped/);
  const unknown = await fetch(url("/p/nobody/health"));
  assert.equal(unknown.status, 404, "an unknown profile is a 404, not a 503");
  target = 1;
  const r2 = await fetch(url("/p/x/health"));
  assert.equal(r2.status, 502);
  target = ports.a;
});

test("issue 9 item 3: a port held by another uid gets no request (the caller's key stays here)", async () => {
  const r = await fetch(url("/p/squatted/v1/models"), { headers: { authorization: "Bearer secret" } });
  assert.equal(r.status, 503);
  assert.match(((await r.json()) as { error: { message: string } }).error.message, /held by uid/);
});

test("issue 9 item 10: an upstream that goes silent fails with 504 after the idle timeout, not a hang", async () => {
  const t0 = performance.now();
  const r = await fetch(url("/p/x/silent"));
  assert.equal(r.status, 504);
  assert.ok(performance.now() - t0 < 5000);
});

test("issue 9 item 10: drain counts a request still resolving its upstream", async () => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const slowResolve = new FrontDoor({
    log,
    resolve: async () => {
      await gate;
      return { port: ports.a, owner: process.getuid?.() ?? 0 };
    },
  });
  const srv = createServer((req, res) => void slowResolve.handle("z", "/v1/models", req, res));
  const port = await listen(srv);
  const pending = fetch(`http://127.0.0.1:${port}/`);
  await until(() => slowResolve.inFlight("z") === 1);
  // before: the request was counted only once forwarding began, so drain returned true while it was still resolving
  assert.equal(await slowResolve.drain("z", 50), false);
  release();
  assert.equal((await pending).status, 200);
  srv.closeAllConnections();
  srv.close();
});
