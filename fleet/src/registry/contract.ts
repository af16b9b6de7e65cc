/**
 * The registry contract: one suite every backend must pass (sqlite.int.test.ts, postgres.int.test.ts run it).
 * The store is fresh per run and shared by the tests, so each test uses its own names, ports and uids.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Registry } from "./index.js";
import { MIGRATIONS, type Migration } from "./migrations.js";
import { PROFILE_COLUMNS } from "./store.js";
import { type NewProfile, PROFILE_STATUSES } from "./types.js";

export interface ContractStore {
  /** A new registry handle on the same store, not migrated; `clock` fixes the time it stamps. */
  open(opts?: { clock?: () => Date; migrations?: readonly Migration[] }): Promise<Registry>;
  /** Raw SQL on the store, bypassing the registry: proves the database itself enforces a rule. */
  raw(sql: string): Promise<Record<string, unknown>[]>;
  /** Column names of a table, read from the engine's catalog. */
  columns(table: string): Promise<string[]>;
  /** Remove the store (file, database). */
  destroy(): Promise<void>;
}

const FP = "a".repeat(64);
let seq = 0;

function profile(over: Partial<NewProfile> = {}): NewProfile {
  seq += 1;
  return {
    name: `p${seq}`,
    tier: "prefab",
    user_id: null,
    status: "creating",
    desired_state: "running",
    pid: null,
    container_id: null,
    workload_handle: null,
    profile_path: `/srv/twilight/profiles/p${seq}`,
    node: null,
    port: 20000 + seq,
    uid: 60000 + seq,
    gid: 60000 + seq,
    image: null,
    plan: null,
    order_id: null,
    secrets_fingerprint: FP,
    ...over,
  };
}

const hasCode = (code: string, text?: RegExp) => (e: unknown) => {
  const err = e as { code?: string; message?: string };
  assert.equal(err.code, code, String(err.message));
  if (text) assert.match(String(err.message), text);
  return true;
};

const conflictOn = (field: string) => (e: unknown) => {
  hasCode("CONFLICT")(e);
  assert.equal((e as { details: { field?: string } }).details.field, field);
  assert.match((e as Error).message, new RegExp(field));
  return true;
};

export function registryContract(backend: "sqlite" | "postgres", setup: () => Promise<ContractStore>): void {
  describe(`registry contract (${backend})`, () => {
    let store: ContractStore;
    let reg: Registry;
    let other: Registry;

    before(async () => {
      store = await setup();
      // rows written by the schema before the workload handle (v2): migration 3 must carry them over
      const old = await store.open({ migrations: MIGRATIONS.filter((m) => m.version <= 2) });
      await old.migrate();
      await old.close();
      const cols =
        "id, name, tier, status, pid, pid_start_time, container_id, profile_path, created_at, desired_state, port, uid, gid, secrets_fingerprint, updated_at";
      const at = "'2030-01-01T00:00:00.000Z'";
      await store.raw(
        `INSERT INTO hermes_profiles (${cols}) VALUES ('v2-a', 'v2-prefab', 'prefab', 'running', 4242, '777', NULL, '/x/a', ${at}, 'running', 1001, 61001, 61001, '${FP}', ${at})`,
      );
      await store.raw(
        `INSERT INTO hermes_profiles (${cols}) VALUES ('v2-b', 'v2-container', 'container', 'running', NULL, NULL, 'c0ffee', '/x/b', ${at}, 'running', 1002, 61002, 61002, '${FP}', ${at})`,
      );
      await store.raw(
        `INSERT INTO hermes_profiles (${cols}) VALUES ('v2-c', 'v2-stopped', 'prefab', 'stopped', NULL, NULL, NULL, '/x/c', ${at}, 'stopped', 1003, 61003, 61003, '${FP}', ${at})`,
      );
      reg = await store.open();
      other = await store.open();
      // two migrators racing on a fresh store: both succeed, each migration is applied once
      await Promise.all([reg.migrate(), other.migrate()]);
    });

    after(async () => {
      await reg?.close();
      await other?.close();
      await store?.destroy();
    });

    test("migrations are recorded once; migrating again is a no-op", async () => {
      assert.equal(reg.backend, backend);
      const q = "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version";
      const first = await store.raw(q);
      assert.deepEqual(
        first.map((r) => [Number(r.version), r.name]),
        MIGRATIONS.map((m) => [m.version, m.name]),
      );
      await reg.migrate();
      await other.migrate();
      assert.deepEqual(await store.raw(q), first);
    });

    test("migration 3 moves pid, pid start time and container id into the one workload handle column", async () => {
      assert.equal((await store.columns("hermes_profiles")).includes("pid_start_time"), false);
      const a = await reg.get("v2-prefab");
      assert.deepEqual(JSON.parse(String(a?.workload_handle)), { pid: 4242, pidStartTime: "777" });
      assert.equal(a?.pid, 4242);
      const b = await reg.get("v2-container");
      assert.deepEqual(JSON.parse(String(b?.workload_handle)), { containerId: "c0ffee" });
      assert.equal(b?.container_id, "c0ffee");
      assert.equal((await reg.get("v2-stopped"))?.workload_handle, null);
    });

    test("a registry newer than the build, or an edited migration, is refused", async () => {
      await store.raw(
        "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (999, 'future', 'x', '2030-01-01T00:00:00Z')",
      );
      try {
        await assert.rejects(reg.migrate(), hasCode("PRECONDITION", /version 999, newer/));
      } finally {
        await store.raw("DELETE FROM schema_migrations WHERE version = 999");
      }
      const [row] = await store.raw("SELECT checksum FROM schema_migrations WHERE version = 1");
      await store.raw("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
      try {
        await assert.rejects(reg.migrate(), hasCode("PRECONDITION", /migration 1 .* changed/));
      } finally {
        await store.raw(`UPDATE schema_migrations SET checksum = '${String(row?.checksum)}' WHERE version = 1`);
      }
      await reg.migrate();
    });

    test("insert returns the full row; get and list read it back", async () => {
      const p = profile({ user_id: "u-1", plan: "pro", image: "twilight/agent:1", status: "running", pid: 4242 });
      const row = await reg.insert({ ...p, workload_handle: '{"pid":4242,"pidStartTime":"123456"}' });
      assert.match(row.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual(Object.keys(row).sort(), [...PROFILE_COLUMNS].sort());
      const { id: _id, created_at, updated_at, ...rest } = row;
      assert.deepEqual(rest, {
        ...p,
        workload_handle: '{"pid":4242,"pidStartTime":"123456"}',
        generation: 1,
        restart_count: 0,
        last_error: null,
        last_health_check: null,
        last_started_at: null,
      });
      assert.equal(created_at, updated_at);
      assert.deepEqual(await reg.get(p.name), row);
      assert.deepEqual(await other.get(p.name), row, "a second handle sees the committed row");
      assert.equal(await reg.get("no-such-profile"), undefined);

      const b = await reg.insert(profile({ name: `zz-${p.name}`, generation: 3 }));
      const a = await reg.insert(profile({ name: `aa-${p.name}` }));
      assert.equal(b.generation, 3);
      const names = (await reg.list()).map((r) => r.name);
      const mine = names.filter((n) => [a.name, b.name, p.name].includes(n));
      assert.deepEqual(mine, [a.name, p.name, b.name], "list is ordered by name");
    });

    test("every status, tier and desired state the type allows is stored", async () => {
      for (const status of PROFILE_STATUSES) {
        for (const tier of ["prefab", "container"] as const) {
          const r = await reg.insert(profile({ status, tier, desired_state: status === "stopped" ? "stopped" : "running" }));
          assert.equal((await reg.get(r.name))?.status, status);
        }
      }
    });

    test("update patches fields and updated_at, keeps created_at; an unknown profile is NotFound", async () => {
      let t = Date.parse("2031-05-01T00:00:00.000Z");
      const clocked = await store.open({ clock: () => new Date(t) });
      try {
        const row = await clocked.insert(profile());
        t += 60_000;
        const up = await clocked.update(row.name, {
          status: "running",
          pid: 777,
          workload_handle: '{"containerId":"c0ffee"}',
          last_error: null,
          tier: "container",
          container_id: "c0ffee",
          generation: 2,
        });
        assert.equal(up.created_at, "2031-05-01T00:00:00.000Z");
        assert.equal(up.updated_at, "2031-05-01T00:01:00.000Z");
        assert.deepEqual(
          [up.status, up.pid, up.workload_handle, up.tier, up.container_id, up.generation, up.port],
          ["running", 777, '{"containerId":"c0ffee"}', "container", "c0ffee", 2, row.port],
        );
        const cleared = await clocked.update(row.name, {
          pid: null,
          workload_handle: null,
          status: "error",
          last_error: "x".repeat(10_000),
        });
        assert.equal(cleared.pid, null);
        assert.equal(cleared.workload_handle, null);
        await assert.rejects(clocked.update(row.name, { workload_handle: "[1]" }), hasCode("INPUT_INVALID", /JSON object/));
        assert.ok(cleared.last_error && cleared.last_error.length <= 4000, "long errors are cut, not refused");
        assert.deepEqual(await clocked.get(row.name), cleared);
        await assert.rejects(clocked.update("no-such-profile", { status: "running" }), hasCode("NOT_FOUND", /no-such-profile/));
      } finally {
        await clocked.close();
      }
    });

    test("remove deletes the row but keeps its events; removing again is NotFound", async () => {
      const row = await reg.insert(profile());
      await reg.addEvent({ profile: row.name, actor: "test", action: "spawn", result: "ok" });
      await reg.remove(row.name);
      assert.equal(await reg.get(row.name), undefined);
      assert.equal(
        (await reg.list()).some((r) => r.name === row.name),
        false,
      );
      await assert.rejects(reg.remove(row.name), hasCode("NOT_FOUND"));
      const ev = await reg.events({ profile: row.name });
      assert.deepEqual(
        ev.map((e) => e.action),
        ["spawn"],
      );
      // the name, port and uid are free again
      await reg.insert(profile({ name: row.name, port: row.port, uid: row.uid }));
    });

    test("conflicts on name, port, uid and order id name the field", async () => {
      const base = await reg.insert(profile({ order_id: `order-${seq}` }));
      await assert.rejects(reg.insert(profile({ name: base.name })), conflictOn("name"));
      await assert.rejects(reg.insert(profile({ port: base.port })), conflictOn("port"));
      await assert.rejects(reg.insert(profile({ uid: base.uid })), conflictOn("uid"));
      await assert.rejects(reg.insert(profile({ order_id: base.order_id })), conflictOn("order_id"));
      // many profiles without an order id are fine
      await reg.insert(profile({ order_id: null }));
      await reg.insert(profile({ order_id: null }));
      const second = await reg.insert(profile());
      await assert.rejects(reg.update(second.name, { port: base.port }), conflictOn("port"));
      await assert.rejects(reg.update(second.name, { order_id: base.order_id }), conflictOn("order_id"));
      assert.equal((await reg.get(second.name))?.port, second.port, "a refused update changes nothing");
    });

    test("getByOrderId finds the profile an order created", async () => {
      const row = await reg.insert(profile({ order_id: `wx-${seq}-4200000000` }));
      assert.deepEqual(await reg.getByOrderId(row.order_id!), row);
      assert.equal(await reg.getByOrderId("no-such-order"), undefined);
    });

    test("bumpRestarts is atomic: 50 parallel bumps over two handles give 50", async () => {
      const row = await reg.insert(profile());
      const bumps = Array.from({ length: 50 }, (_, i) => (i % 2 ? reg : other).bumpRestarts(row.name));
      const seen = (await Promise.all(bumps)).map((r) => r.restart_count).sort((a, b) => a - b);
      assert.deepEqual(
        seen,
        Array.from({ length: 50 }, (_, i) => i + 1),
        "each bump saw its own count",
      );
      assert.equal((await reg.get(row.name))?.restart_count, 50);
      await assert.rejects(reg.bumpRestarts("no-such-profile"), hasCode("NOT_FOUND"));
    });

    test("events come newest first, filtered by profile and limited", async () => {
      const a = `ev-a-${seq}`;
      const b = `ev-b-${seq}`;
      await reg.addEvent({
        profile: a,
        actor: "cli",
        action: "spawn",
        result: "ok",
        detail: { port: 1, nested: { list: [1, "x"] } },
      });
      await reg.addEvent({ profile: a, actor: "supervisor", action: "crash", result: "error", detail: { code: 137 } });
      await reg.addEvent({ profile: b, actor: "cli", action: "spawn", result: "info" });
      await reg.addEvent({ profile: a, actor: "cli", action: "stop", result: "ok" });
      const all = await reg.events({ limit: 4 });
      assert.deepEqual(
        all.map((e) => `${e.profile}:${e.action}`),
        [`${a}:stop`, `${b}:spawn`, `${a}:crash`, `${a}:spawn`],
      );
      const ofA = await reg.events({ profile: a });
      assert.deepEqual(
        ofA.map((e) => e.action),
        ["stop", "crash", "spawn"],
      );
      assert.deepEqual(ofA[2]?.detail, { port: 1, nested: { list: [1, "x"] } });
      assert.deepEqual(ofA[0]?.detail, {});
      assert.equal(typeof ofA[0]?.id, "number");
      assert.ok((ofA[0]?.id ?? 0) > (ofA[1]?.id ?? 0));
      assert.deepEqual(
        (await reg.events({ profile: a, limit: 2 })).map((e) => e.action),
        ["stop", "crash"],
      );
      for (const limit of [0, -1, 1.5, 10_001]) await assert.rejects(reg.events({ profile: a, limit }), hasCode("INPUT_INVALID"));
      await assert.rejects(
        reg.addEvent({ profile: a, actor: "cli", action: "x", result: "maybe" as "ok" }),
        hasCode("INPUT_INVALID"),
      );
    });

    test("events are append-only in the database itself", async () => {
      const p = `ev-ro-${seq}`;
      await reg.addEvent({ profile: p, actor: "cli", action: "spawn", result: "ok" });
      const [ev] = await reg.events({ profile: p });
      assert.ok(ev);
      await assert.rejects(store.raw(`UPDATE profile_events SET actor = 'forged' WHERE id = ${ev.id}`), /append-only/);
      await assert.rejects(store.raw(`DELETE FROM profile_events WHERE id = ${ev.id}`), /append-only/);
      await assert.rejects(store.raw("DELETE FROM profile_events"), /append-only/);
      if (backend === "postgres") await assert.rejects(store.raw("TRUNCATE profile_events"), /append-only/);
      assert.deepEqual(await reg.events({ profile: p }), [ev]);
    });

    test("timestamps round-trip as ISO-8601 UTC strings", async () => {
      const fixed = new Date("2030-01-02T03:04:05.678Z");
      const clocked = await store.open({ clock: () => fixed });
      try {
        const row = await clocked.insert(profile());
        assert.equal(row.created_at, "2030-01-02T03:04:05.678Z");
        const up = await clocked.update(row.name, {
          last_health_check: "2030-01-02T11:04:05.678+08:00",
          last_started_at: "2030-01-02T03:04:05Z",
        });
        assert.equal(up.last_health_check, "2030-01-02T03:04:05.678Z");
        assert.equal(up.last_started_at, "2030-01-02T03:04:05.000Z");
        assert.deepEqual(await reg.get(row.name), up, "another handle reads the same strings");
        for (const bad of ["2030-01-02T03:04:05", "yesterday", "2030-13-45T99:00:00Z"]) {
          await assert.rejects(clocked.update(row.name, { last_health_check: bad }), hasCode("INPUT_INVALID"), bad);
        }
        await clocked.addEvent({ profile: row.name, actor: "t", action: "probe", result: "ok" });
        assert.equal((await clocked.events({ profile: row.name }))[0]?.at, "2030-01-02T03:04:05.678Z");
      } finally {
        await clocked.close();
      }
    });

    test("bad input is refused with a clear error and changes nothing; the database checks it too", async () => {
      const p = profile();
      const cases: [Partial<Record<string, unknown>>, RegExp][] = [
        [{ tier: "vm" }, /tier/],
        [{ status: "zombie" }, /status/],
        [{ desired_state: "paused" }, /desired_state/],
        [{ port: 70000 }, /port/],
        [{ profile_path: "relative/dir" }, /profile_path/],
        [{ secrets_fingerprint: "hunter2" }, /secrets_fingerprint/],
      ];
      for (const [over, why] of cases) {
        await assert.rejects(reg.insert({ ...p, ...over } as NewProfile), hasCode("INPUT_INVALID", why));
      }
      await assert.rejects(reg.insert({ ...p, name: "../x" }), hasCode("NAME_INVALID"));
      assert.equal(await reg.get(p.name), undefined);
      const cols =
        "id, name, tier, status, desired_state, profile_path, port, uid, gid, secrets_fingerprint, created_at, updated_at";
      const ts = "'2030-01-01T00:00:00Z'";
      for (const [tier, status, desired] of [
        ["vm", "running", "running"],
        ["prefab", "zombie", "running"],
        ["prefab", "running", "paused"],
      ]) {
        const values = `'raw-${seq}', 'raw-${seq}', '${tier}', '${status}', '${desired}', '/x', 1, 1, 1, 'f', ${ts}, ${ts}`;
        await assert.rejects(store.raw(`INSERT INTO hermes_profiles (${cols}) VALUES (${values})`), /check constraint/i);
      }
    });

    test("no secret can be stored: no such column, no such field, event details redacted", async () => {
      const columns = await store.columns("hermes_profiles");
      assert.deepEqual([...columns].sort(), [...PROFILE_COLUMNS].sort());
      assert.deepEqual(
        columns.filter((c) => /secret|token|key|passw/i.test(c)),
        ["secrets_fingerprint"],
      );
      const eventColumns = await store.columns("profile_events");
      assert.deepEqual([...eventColumns].sort(), ["action", "actor", "at", "detail", "id", "profile", "result"]);

      const secret = `sk-${"z".repeat(40)}`;
      const p = profile();
      await assert.rejects(reg.insert({ ...p, API_SERVER_KEY: secret } as NewProfile), (e: Error) => {
        hasCode("INPUT_INVALID", /API_SERVER_KEY/)(e);
        assert.equal(JSON.stringify(e).includes(secret) || e.message.includes(secret), false, "the error does not echo it");
        return true;
      });
      assert.equal(await reg.get(p.name), undefined);
      const row = await reg.insert(p);
      await assert.rejects(reg.update(row.name, { token: secret } as never), hasCode("INPUT_INVALID", /token/));

      await reg.addEvent({
        profile: row.name,
        actor: "cli",
        action: "spawn",
        result: "ok",
        detail: { token: secret, env: { SILICONFLOW_API_KEY: secret }, list: [{ password: secret }], secrets_fingerprint: FP },
      });
      const [ev] = await reg.events({ profile: row.name });
      assert.deepEqual(ev?.detail, {
        token: "[redacted]",
        env: { SILICONFLOW_API_KEY: "[redacted]" },
        list: [{ password: "[redacted]" }],
        secrets_fingerprint: FP,
      });
      const dump = JSON.stringify([
        await store.raw("SELECT * FROM hermes_profiles"),
        await store.raw("SELECT * FROM profile_events"),
      ]);
      assert.equal(dump.includes(secret), false, "the secret is nowhere in the store");
    });
  });
}
