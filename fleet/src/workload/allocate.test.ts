import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { PortLeases, UidLeases } from "./allocate.js";

test("issue 9 item 10: 20 concurrent leases get 20 different ports, none in the registry, none already bound", async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
  const bound = (busy.address() as { port: number }).port;
  const range = { low: bound - 5, high: bound + 40 };
  const inRegistry = new Set([bound - 5, bound - 4]);
  const leases = new PortLeases();
  const got = await Promise.all(Array.from({ length: 20 }, () => leases.lease(range, inRegistry)));
  const ports = got.map((l) => l.port);
  assert.equal(new Set(ports).size, 20, `duplicates: ${ports}`);
  assert.ok(!ports.includes(bound) && !ports.some((p) => inRegistry.has(p)));
  assert.equal(leases.size, 20);
  for (const l of got) l.release();
  assert.equal(leases.size, 0);
  busy.close();
});

test("a range with nothing free is Unavailable, naming the range and what to do", async () => {
  const leases = new PortLeases();
  await assert.rejects(leases.lease({ low: 20000, high: 20001 }, new Set([20000, 20001])), /no free port in 20000-20001/);
});

test("uid leases: a spawn in flight and the warm pool never get the same uid; a released uid is free again", () => {
  const leases = new UidLeases();
  const range = { low: 64000, high: 64010 };
  const taken = new Set([64000]);
  const a = leases.lease(range, taken); // a spawn, its row not written yet
  const b = leases.lease(range, taken); // the pool, meanwhile (its registry read does not show a's uid)
  assert.notEqual(a.uid, b.uid);
  assert.ok(!taken.has(a.uid) && !taken.has(b.uid));
  a.release();
  assert.equal(leases.lease(range, taken).uid, a.uid);
  assert.throws(() => leases.lease({ low: 64000, high: 64000 }, taken), /no free uid/);
});
