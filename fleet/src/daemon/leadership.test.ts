import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger, type DomainError } from "@twilight/core";
import type { LeaderLockSession } from "../registry/leader-lock.js";
import { ELECTION, type ElectionTiming, Leadership, partitionBudget, type Role } from "./leadership.js";

const log = createLogger("test", { level: "silent" });
const FAST: ElectionTiming = { ...ELECTION, pollMs: 5, heartbeatMs: 5 };

/** One advisory lock, as PostgreSQL keeps it: held by at most one session, freed when that session ends. */
class FakeServer {
  holder: FakeSession | undefined;
  opened = 0;
  open = async (): Promise<LeaderLockSession> => {
    this.opened++;
    return new FakeSession(this);
  };
}

class FakeSession implements LeaderLockSession {
  url: string | undefined;
  failHeartbeat = false;
  private lostFns: Array<(why: string) => void> = [];
  constructor(private readonly server: FakeServer) {}
  async tryAcquire() {
    if (this.server.holder && this.server.holder !== this) return false;
    this.server.holder = this;
    return true;
  }
  async heartbeat() {
    if (this.failHeartbeat) throw new Error("Query read timeout");
  }
  async holder() {
    return this.server.holder?.url;
  }
  async publish(url: string) {
    this.url = url;
  }
  onLost(fn: (why: string) => void) {
    this.lostFns.push(fn);
  }
  async close() {
    if (this.server.holder === this) this.server.holder = undefined;
  }
  /** The connection dies (process killed, server restarted): the lock goes with it. */
  kill() {
    void this.close();
    for (const fn of this.lostFns.splice(0)) fn("lock connection closed");
  }
}

function daemon(server: FakeServer | undefined, url: string, takeover: () => Promise<void> = async () => {}) {
  const events = { takeovers: 0, lost: [] as string[], roles: [] as Role[] };
  const l = new Leadership({
    openLock: server?.open,
    url: () => url,
    takeover: async () => {
      events.takeovers++;
      await takeover();
    },
    lost: (why) => events.lost.push(why),
    changed: (r) => events.roles.push(r),
    timing: FAST,
    log,
  });
  return { l, events };
}

async function until(what: string, fn: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

test("no lock (SQLite): the daemon leads at once, after its takeover", async () => {
  const { l, events } = daemon(undefined, "http://a");
  assert.equal(await l.start(), "leader");
  assert.equal(events.takeovers, 1);
  assert.deepEqual(events.roles, ["taking-over", "leader"]);
  l.assertLeader();
  await l.close();
});

test("two daemons, one lock: one leads; the standby refuses changes naming the leader, and takes over when it dies", async () => {
  const server = new FakeServer();
  const a = daemon(server, "http://a");
  const b = daemon(server, "http://b");
  assert.equal(await a.l.start(), "leader");
  assert.equal(await b.l.start(), "standby");
  assert.equal(b.events.takeovers, 0);
  assert.equal(b.l.leaderUrl(), "http://a");
  assert.throws(
    () => b.l.assertLeader(),
    (e: DomainError) => e.code === "NOT_LEADER" && e.retryable && (e.hint ?? "").includes("http://a"),
  );
  // the front door's callers are not operators: the leader's admin address stays out
  assert.throws(
    () => b.l.assertLeader({ anonymous: true }),
    (e: DomainError) => e.code === "NOT_LEADER" && !JSON.stringify(e.toJSON()).includes("http://a"),
  );
  // the leader's process dies: its session (and lock) with it
  (server.holder as FakeSession).kill();
  await until("b leads", () => b.l.role() === "leader");
  assert.equal(b.events.takeovers, 1);
  assert.equal(b.l.leaderUrl(), "http://b");
  assert.equal((server.holder as FakeSession).url, "http://b");
  b.l.assertLeader();
  assert.deepEqual(a.events.lost.length, 1, "the dead leader's own instance learns it lost");
  await a.l.close();
  await b.l.close();
  assert.equal(server.holder, undefined, "close lets the lock go");
});

test("a takeover in progress refuses changes too (taking-over), and only then leads", async () => {
  const server = new FakeServer();
  let finish = () => {};
  const gate = new Promise<void>((r) => {
    finish = r;
  });
  const a = daemon(server, "http://a", () => gate);
  const started = a.l.start();
  await until("taking over", () => a.l.role() === "taking-over");
  assert.throws(
    () => a.l.assertLeader(),
    (e: DomainError) => e.code === "NOT_LEADER" && /taking over/.test(e.message),
  );
  finish();
  assert.equal(await started, "leader");
  await a.l.close();
});

test("a leader whose heartbeat fails gives up (lost, once) and lets the lock go", async () => {
  const server = new FakeServer();
  const a = daemon(server, "http://a");
  await a.l.start();
  (server.holder as FakeSession).failHeartbeat = true;
  await until("lost", () => a.events.lost.length > 0);
  await sleep(30);
  assert.equal(a.events.lost.length, 1);
  assert.match(a.events.lost[0] ?? "", /heartbeat failed/);
  assert.equal(a.l.role(), "standby");
  assert.equal(server.holder, undefined);
  assert.throws(
    () => a.l.assertLeader(),
    (e: DomainError) => e.code === "NOT_LEADER",
  );
});

test("a standby whose lock connection drops opens another and stays standby", async () => {
  const server = new FakeServer();
  const a = daemon(server, "http://a");
  await a.l.start();
  const captured: FakeSession[] = [];
  const open = server.open;
  server.open = async () => {
    const s = (await open()) as FakeSession;
    captured.push(s);
    return s;
  };
  const b = daemon(server, "http://b");
  await b.l.start();
  const before = server.opened;
  captured[0]?.kill();
  await until("a new session", () => server.opened > before);
  assert.equal(b.l.role(), "standby");
  assert.deepEqual(b.events.lost, []);
  await a.l.close();
  await until("b leads", () => b.l.role() === "leader");
  await b.l.close();
});

test("a first takeover that fails: start rejects and the lock goes; a later one that fails: lost", async () => {
  const server = new FakeServer();
  const a = daemon(server, "http://a", async () => {
    throw new Error("registry gone");
  });
  await assert.rejects(a.l.start(), /registry gone/);
  assert.equal(server.holder, undefined);
  assert.deepEqual(a.events.lost, []);
  const keeper = daemon(server, "http://k");
  await keeper.l.start();
  const b = daemon(server, "http://b", async () => {
    throw new Error("adoption failed");
  });
  await b.l.start();
  await keeper.l.close();
  await until("b lost", () => b.events.lost.length > 0);
  assert.match(b.events.lost[0] ?? "", /takeover failed: adoption failed/);
  assert.equal(server.holder, undefined);
});

test("partition budget: the leader stops before PostgreSQL can free its lock; a standby holds it within 10 s", () => {
  const b = partitionBudget(ELECTION);
  assert.ok(b.fenced, JSON.stringify(b));
  assert.ok(b.lockFreedAfterMs - b.leaderStopsByMs >= 1000, `margin ${JSON.stringify(b)}`);
  assert.ok(b.standbyLocksByMs <= 9000, `takeover ${JSON.stringify(b)}`);
  // a heartbeat deadline as long as the server's detection would let two leaders overlap
  assert.equal(partitionBudget({ ...ELECTION, heartbeatTimeoutMs: 6000 }).fenced, false);
  // without a user timeout the keepalive count decides
  const noUser = partitionBudget({ ...ELECTION, server: { ...ELECTION.server, userTimeoutMs: 0 } });
  assert.equal(noUser.lockFreedAfterMs, (3 + 3) * 1000 - 1000);
});
