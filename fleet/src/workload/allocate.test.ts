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

test("a uid or port released after a caller's registry read began is not handed to that caller (its row may be newer than the read)", async () => {
  const uids = new UidLeases();
  const range = { low: 64100, high: 64110 };
  const a = uids.lease(range, new Set());
  const mark = uids.mark(); // caller B starts reading the registry: A's row is not written yet, A's lease holds the uid
  a.release(); // A's row is written (B's read missed it) and A gives its lease back
  const b = uids.lease(range, new Set(), mark);
  assert.notEqual(b.uid, a.uid, "B got the uid A's row now holds");
  assert.equal(uids.lease(range, new Set([a.uid, b.uid]), uids.mark()).uid, a.uid + 2, "a fresh read decides again");
  // without a mark (tests, benches that record at once) a released uid is free again at once
  assert.equal(uids.lease(range, new Set()).uid, a.uid);

  const ports = new PortLeases();
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const base = (srv.address() as { port: number }).port;
  srv.close();
  const pr = { low: base, high: base + 30 };
  const pa = await ports.lease(pr, new Set());
  const pmark = ports.mark();
  pa.release();
  const pb = await ports.lease(pr, new Set(), pmark);
  assert.notEqual(pb.port, pa.port);
  pb.release();
});
