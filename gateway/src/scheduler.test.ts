import assert from "node:assert/strict";
import { test } from "node:test";
import { FairScheduler, QueueFull } from "./scheduler.js";

const tick = () => new Promise((r) => setImmediate(r));

test("per-key cap: a key's extra requests queue, then are refused when its queue is full", async () => {
  const s = new FairScheduler(10);
  const r1 = await s.acquire("a", 1, 1);
  let granted = false;
  const p = s.acquire("a", 1, 1).then((r) => {
    granted = true;
    return r;
  });
  await assert.rejects(s.acquire("a", 1, 1), QueueFull);
  await tick();
  assert.equal(granted, false);
  const b = await s.acquire("b", 1, 1); // another key is served at once
  r1();
  (await p)();
  b();
  assert.equal(s.active, 0);
});

test("round robin: with one slot, a key with a deep queue does not starve another", async () => {
  const s = new FairScheduler(1);
  const order: string[] = [];
  const hold = await s.acquire("x", 1, 0);
  const waits: Promise<void>[] = [];
  const served = (key: string) => (release: () => void) => {
    order.push(key);
    release();
  };
  for (let i = 0; i < 5; i++) waits.push(s.acquire("a", 5, 10).then(served("a")));
  waits.push(s.acquire("b", 5, 10).then(served("b")));
  hold();
  await Promise.all(waits);
  assert.ok(order.indexOf("b") <= 1, `b served within the first turn: ${order.join(",")}`);
});

test("pause: an upstream 429 holds every key until its Retry-After", async () => {
  const s = new FairScheduler(4);
  s.pause(Date.now() + 150);
  const t0 = Date.now();
  const r = await s.acquire("a", 1, 1);
  assert.ok(Date.now() - t0 >= 140, `waited ${Date.now() - t0} ms`);
  r();
});

test("abort while queued removes the waiter", async () => {
  const s = new FairScheduler(1);
  const r = await s.acquire("a", 1, 1);
  const ac = new AbortController();
  const p = s.acquire("b", 1, 1, ac.signal);
  ac.abort();
  await assert.rejects(p);
  assert.equal(s.queued(), 0);
  r();
});
