/**
 * The CLI and the daemon share the contract: for each route, what the real daemon answers parses with the schema the
 * CLI's client uses, and parsing loses nothing (every field the daemon sends is declared). `/v1/openapi.json` from the
 * running daemon is valid OpenAPI 3.1 and lists every route.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FleetClient } from "../client/client.js";
import { type FleetHarness, fleetHarness } from "../testing/harness.js";
import { openApiErrors } from "./openapi.test.js";
import { pathOf, ROUTES, type RouteDef, type RouteId } from "./routes.js";

/** Routes this test does not call, and why (every other route must be called below). */
const NOT_CALLED: Partial<Record<RouteId, string>> = {
  buildImages: "builds the operator's images (minutes on a fresh host); its result schema is checked by verify's run",
  mcpUp: "starts the shared data-service container by its fixed name",
  mcpDown: "stops the shared data-service container",
  removeOrphans: "would remove labelled containers of other registries on this host",
  upgradeFleet: "needs container profiles and a second image tag; called by e2e/day2-upgrade.int.test.ts",
  rolloutResume: "needs a rollout paused at a failed gate: e2e/day2-upgrade.int.test.ts (--pause-on-failure)",
  gatewayUp: "starts a host process on the gateway port with an upstream: fleet/src/e2e/gateway.int.test.ts calls it",
  gatewayDown: "stops the model gateway: fleet/src/e2e/gateway.int.test.ts calls it",
  usage: "needs a running gateway with an upstream: fleet/src/e2e/gateway.int.test.ts calls it",
  moveProfile:
    "needs a swarm profile (seconds to start): e2e/swarm.int calls it through the CLI (a move to its own node) and e2e/swarm-nodes.int (heavy) between two nodes; the CLI parses every answer with the route's schema",
  rotateCiteKey: "needs the shared data-service container; McpService.rotateKey and pinning: mcp-service.int.test.ts",
};

describe("admin API contract: daemon answers parse with the CLI's schemas", () => {
  let h: FleetHarness;
  let token: string;
  let client: FleetClient;
  const called = new Set<RouteId>();

  /** Raw request; the body parsed by the route's schema must equal what was sent (nothing undeclared). */
  async function raw(id: RouteId, init: { params?: Record<string, string>; query?: string; body?: unknown; ndjson?: boolean }) {
    called.add(id);
    const def = ROUTES[id] as RouteDef;
    const res = await fetch(`${h.url}${pathOf(def, init.params ?? {})}${init.query ?? ""}`, {
      method: def.method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    assert.ok(def.ok.includes(res.status), `${id}: HTTP ${res.status} ${text.slice(0, 300)}`);
    if (def.kind === "text" || def.kind === "stream") {
      assert.ok(def.response.safeParse(text).success);
      return text;
    }
    const values =
      def.kind === "ndjson"
        ? text
            .trim()
            .split("\n")
            .map((l) => JSON.parse(l))
        : [JSON.parse(text)];
    for (const v of values) {
      const r = def.response.safeParse(v);
      assert.ok(r.success, `${id}: ${JSON.stringify(r.error?.issues ?? [])}`);
      assert.deepEqual(JSON.parse(JSON.stringify(r.data)), v, `${id}: the schema drops fields the daemon sends`);
    }
    return values[0];
  }

  before(async () => {
    h = await fleetHarness();
    await h.startDaemon();
    token = readFileSync(join(h.ops, "admin-token"), "utf8").trim();
    client = new FleetClient(h.url, () => token, "test");
  });
  after(async () => {
    await h?.cleanup();
  });

  test("profile routes", async () => {
    const health = (await raw("daemonHealth", {})) as { role?: string };
    assert.equal(health.role, "leader", "a daemon on SQLite always leads");
    const spawned = (await client.op(ROUTES.spawnProfile, { params: { name: "contract-1" }, body: { tier: "prefab" } })) as {
      created: boolean;
    };
    called.add("spawnProfile");
    assert.equal(spawned.created, true);
    // the same request again through the raw path (idempotent answer 200 needs a key; a second spawn is a conflict)
    await raw("spawnProfile", { params: { name: "contract-2" }, body: { tier: "prefab", plan: "basic", user_id: "u-1" } });
    await raw("listProfiles", { query: "?stats=1" });
    await raw("getProfile", { params: { name: "contract-1" } });
    await raw("profileHealth", { params: { name: "contract-1" } });
    await raw("events", { query: "?limit=5&profile=contract-1" });
    await raw("profileUnit", { params: { name: "contract-1" } });
    await raw("profileCompose", { params: { name: "contract-1" } });
    await raw("profileLogs", { params: { name: "contract-1" }, query: "?tail=5" });
    await raw("execProfile", { params: { name: "contract-1" }, body: { argv: ["id", "-u"] } });
    await raw("metrics", {});
    await raw("prometheusConfig", { query: "?fleet_address=127.0.0.1:8700" });
    await raw("createProvisionKey", { body: { key_id: "contract-billing" } });
    // no data service in this fleet: the profile still answers (saying the data service could not)
    await raw("askProfile", { params: { name: "contract-1" }, body: { question: "price of 600519" } });
    await raw("rotateSecrets", { params: { name: "contract-1" }, body: { which: ["model", "api"] } });
    await raw("restartProfile", { params: { name: "contract-1" } });
    await raw("stopProfile", { params: { name: "contract-1" } });
    await raw("startProfile", { params: { name: "contract-1" } });
    const slept = (await raw("sleepProfile", { params: { name: "contract-1" } })) as { status: string };
    assert.equal(slept.status, "sleeping");
    assert.equal(((await raw("profileHealth", { params: { name: "contract-1" } })) as { status: string }).status, "sleeping");
    const woke = (await raw("wakeProfile", { params: { name: "contract-1" } })) as { status: string };
    assert.equal(woke.status, "running");
    await raw("migrateProfile", { params: { name: "contract-1" }, body: { to: "prefab" } });
    const removed = (await raw("removeProfile", { params: { name: "contract-2" }, query: "?force=1" })) as { archive: string };
    assert.match(removed.archive, /^contract-2@\d{8}T\d{6}Z$/);
    // day-2: backup, list, restore under a new name, export (fenced), unfence, and the key
    const key = (await raw("backupKey", {})) as { recipient: string };
    const b = (await raw("backupProfile", { params: { name: "contract-1" }, body: {} })) as { file: string };
    await raw("listBackups", { query: "?profile=contract-1" });
    await raw("restoreProfile", { body: { file: b.file, as: "contract-3" } });
    await raw("exportProfile", { params: { name: "contract-3" }, body: { to: [key.recipient] } });
    await raw("unfenceProfile", { params: { name: "contract-3" } });
    await raw("removeProfile", { params: { name: "contract-3" }, query: "?force=1&purge=1" });
    await raw("rolloutStatus", {});
    await raw("rolloutAbort", {});
    await raw("listArchives", {});
    await raw("purgeArchive", { params: { archive: removed.archive } });
    // and the CLI's client parses the same answers with the same schemas
    const list = await client.call(ROUTES.listProfiles, {});
    assert.deepEqual(
      list.profiles.map((p) => p.name),
      ["contract-1"],
    );
  });

  test("platform routes (Docker)", async () => {
    await raw("mcpStatus", {});
    await raw("gatewayStatus", {});
    await raw("orphans", {});
    await raw("doctor", {});
    // the swarm routes: init is idempotent (an engine already in a swarm is left as it is)
    const s = (await raw("swarmInit", { body: {} })) as { state: string; tier: boolean };
    assert.equal(s.state, "active");
    assert.equal(((await raw("swarmStatus", {})) as { tier: boolean }).tier, true);
    const t = (await raw("swarmJoinToken", {})) as { command: string };
    assert.match(t.command, /^docker swarm join --token SWMTKN-/);
    const n = (await raw("listNodes", {})) as { nodes: Array<{ self: boolean }> };
    assert.equal(n.nodes.filter((x) => x.self).length, 1);
  });

  test("GET /v1/openapi.json is valid OpenAPI 3.1 and lists every route", async () => {
    const doc = (await raw("openapi", {})) as { paths: Record<string, Record<string, unknown>> };
    assert.equal(await openApiErrors(doc), undefined);
    for (const [id, def] of Object.entries(ROUTES))
      assert.ok(doc.paths[def.path.replace(/:(\w+)/g, "{$1}")]?.[def.method.toLowerCase()], `${id} listed`);
  });

  test("every route is exercised (or listed with a reason)", () => {
    const missing = (Object.keys(ROUTES) as RouteId[]).filter((id) => !called.has(id) && !NOT_CALLED[id]);
    assert.deepEqual(missing, []);
  });

  test("auth is applied by the mount: every non-open route refuses a missing token", async () => {
    for (const [id, def] of Object.entries(ROUTES) as Array<[RouteId, RouteDef]>) {
      const path = pathOf(def, { name: "contract-1", archive: "contract-1@20260101T000000Z" });
      const res = await fetch(`${h.url}${path}`, { method: def.method });
      await res.arrayBuffer();
      if (def.auth === "none") assert.equal(res.status, 200, id);
      else assert.equal(res.status, 401, `${id} must need a token`);
    }
  });
});
