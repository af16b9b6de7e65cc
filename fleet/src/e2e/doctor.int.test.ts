/**
 * Issue 17: `hermes-admin doctor` catches each failure it lists, provoked for real on a harness fleet: dockerd down
 * (the fleet pointed at a socket that does not exist; the shared dockerd is never stopped), the data service down (the
 * fleet's data-service container name points at one that does not exist), a row stuck in a transient state, an orphan
 * container of this fleet, and a world-readable admin token. Each time: the row FAILs, says why and what fixes it, and
 * the exit code is 8; put right, the row passes again.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LABELS, MANAGED_BY } from "@twilight/core";
import Database from "better-sqlite3";
import { dockerClient } from "../docker/client.js";
import { imageRefs } from "../images/index.js";
import type { Check } from "../lib/doctor-checks.js";
import { type FleetHarness, fleetHarness } from "../testing/harness.js";

interface Report {
  ok: boolean;
  checks: Check[];
}

const TAG = Math.random().toString(36).slice(2, 8);
const ENV = {
  FLEET_PORT_RANGE: "19951-19999",
  FLEET_UID_RANGE: "62000-62999",
  FLEET_MCP_CONTAINER: `twl-doctor-nomcp-${TAG}`,
  FLEET_MCP_HOST_PORT: "19998",
};

function doctor(h: FleetHarness): { code: number; report: Report; text: string } {
  const r = h.cli(["doctor", "--json"]);
  const text = h.cli(["doctor"]).stdout;
  return { code: r.code, report: JSON.parse(r.stdout) as Report, text };
}

function row(r: Report, id: string): Check {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `doctor has a ${id} row: ${r.checks.map((x) => x.id).join(",")}`);
  return c;
}

function assertFails(r: Report, id: string, what: RegExp): Check {
  const c = row(r, id);
  assert.equal(c.status, "fail", `${id}: ${JSON.stringify(c)}`);
  assert.match(c.what, what);
  assert.ok(c.why && c.fix, `${id} says why and what fixes it`);
  return c;
}

describe("hermes-admin doctor catches each failure it lists", { timeout: 600_000 }, () => {
  let h: FleetHarness;
  const docker = dockerClient();
  let orphanId: string | undefined;

  before(async () => {
    h = await fleetHarness(ENV);
    await h.startDaemon();
  });
  after(async () => {
    if (orphanId)
      await docker
        .getContainer(orphanId)
        .remove({ force: true })
        .catch(() => undefined);
    await h?.cleanup();
  });

  test("a clean fleet: the daemon, dockerd, token, rows and orphans pass; the absent data service fails", () => {
    const { code, report, text } = doctor(h);
    for (const id of [
      "daemon",
      "dockerd",
      "daemon-docker",
      "admin-token",
      "ops-dir",
      "registry",
      "transient-rows",
      "orphan-containers",
      "orphan-processes",
      "clock",
      "cite-keys",
    ])
      assert.equal(row(report, id).status, "pass", `${id}: ${JSON.stringify(row(report, id))}`);
    assertFails(report, "data-service", new RegExp(`${ENV.FLEET_MCP_CONTAINER}: no container`));
    assert.match(row(report, "data-service").fix ?? "", /hermes-admin up/);
    assert.equal(code, 8, "exit 8 when anything fails");
    assert.match(text, /^FAIL {2}data-service/m);
    assert.match(text, /fix: hermes-admin up/);
    assert.match(text, /\d+ pass, \d+ warn, \d+ fail \(exit 8\)/);
  });

  test("spawn and start warn (exit 0) when the data service is down, naming the command that fixes it", () => {
    const name = `doc-warn-${TAG}`;
    const s = h.cli(["spawn", name, "--tier", "prefab", "--json"]);
    assert.equal(s.code, 0, s.stderr);
    const out = JSON.parse(s.stdout) as {
      created: boolean;
      warnings?: Array<{ service: string; message: string; hint: string }>;
    };
    assert.equal(out.created, true, "a down platform service never fails the spawn");
    assert.equal(out.warnings?.[0]?.service, "data-service", JSON.stringify(out.warnings));
    assert.match(out.warnings?.[0]?.message ?? "", new RegExp(`${ENV.FLEET_MCP_CONTAINER}\\) is not created`));
    assert.match(out.warnings?.[0]?.hint ?? "", /hermes-admin up/);
    assert.equal(h.cli(["stop", name]).code, 0);
    const started = h.cli(["start", name]);
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stderr, /! warning: the data service \(.*\) is not created; the profile's market-data tools will fail/);
    assert.match(started.stderr, /fix: hermes-admin up/);
    assert.equal(h.cli(["rm", name, "--force", "--purge"]).code, 0);
  });

  test("a profile that does not pin the data service's current cite key is named, with the fix", () => {
    const name = `doc-pin-${TAG}`;
    assert.equal(h.cli(["spawn", name, "--tier", "prefab"]).code, 0);
    // the data service publishes a key set (its file in ops/mcp) after the profile pinned the empty one
    const published = join(h.ops, "mcp", "cite-keys.json");
    mkdirSync(join(h.ops, "mcp"), { recursive: true });
    writeFileSync(published, JSON.stringify({ keys: [{ key_id: "k-doctor-1", x: "AAAA" }] }), { mode: 0o644 });
    try {
      const c = row(doctor(h).report, "cite-keys");
      assert.equal(c.status, "warn", JSON.stringify(c));
      assert.match(c.what, new RegExp(`pin the current key k-doctor-1; not: .*${name}`));
      assert.match(c.fix ?? "", /hermes-admin mcp up/);
    } finally {
      rmSync(published, { force: true });
      h.cli(["rm", name, "--force", "--purge"]);
    }
    assert.equal(row(doctor(h).report, "cite-keys").status, "pass");
  });

  test("a row stuck in a transient state", () => {
    const name = `doc-stuck-${TAG}`;
    const s = h.cli(["spawn", name, "--tier", "prefab"]);
    assert.equal(s.code, 0, s.stderr);
    const db = new Database(join(h.ops, "profiles.db"));
    try {
      db.prepare("UPDATE hermes_profiles SET status = 'migrating', updated_at = ? WHERE name = ?").run(
        new Date(Date.now() - 3600_000).toISOString(),
        name,
      );
    } finally {
      db.close();
    }
    const c = assertFails(doctor(h).report, "transient-rows", new RegExp(`${name} \\(migrating for \\d+ s\\)`));
    assert.match(c.fix ?? "", /hermes-admin down && hermes-admin up/);
    // put right: back to running (as the reconcile at the next start would); the row passes again
    const db2 = new Database(join(h.ops, "profiles.db"));
    try {
      db2
        .prepare("UPDATE hermes_profiles SET status = 'running', updated_at = ? WHERE name = ?")
        .run(new Date().toISOString(), name);
    } finally {
      db2.close();
    }
    assert.equal(row(doctor(h).report, "transient-rows").status, "pass");
  });

  test("an orphan container of this fleet (its profile directory, no registry row)", async () => {
    const ghost = `doc-ghost-${TAG}`;
    const dir = join(h.ops, "profiles", ghost);
    mkdirSync(dir, { recursive: true });
    const c = await docker.createContainer({
      name: `hermes-${ghost}-g1`,
      Image: imageRefs("0").base,
      Cmd: ["true"],
      Labels: {
        [LABELS.managedBy]: MANAGED_BY,
        [LABELS.role]: "profile",
        [LABELS.profile]: ghost,
        [LABELS.generation]: "1",
        [LABELS.tier]: "container",
      },
      HostConfig: { Mounts: [{ Type: "bind", Source: dir, Target: "/profile", ReadOnly: true }] },
    });
    orphanId = c.id;
    const row1 = assertFails(doctor(h).report, "orphan-containers", new RegExp(`hermes-${ghost}-g1`));
    assert.match(row1.fix ?? "", /orphans --remove/);
    await c.remove({ force: true });
    orphanId = undefined;
    assert.equal(row(doctor(h).report, "orphan-containers").status, "pass");
  });

  test("a world-readable admin token", () => {
    const file = join(h.ops, "admin-token");
    chmodSync(file, 0o644);
    try {
      const { code, report } = doctor(h);
      const c = assertFails(report, "admin-token", /mode 644/);
      assert.equal(c.fix, `chmod 600 ${file}`);
      assert.equal(code, 8);
    } finally {
      chmodSync(file, 0o600);
    }
    assert.equal(row(doctor(h).report, "admin-token").status, "pass");
  });
});

describe("hermes-admin doctor: dockerd down (the fleet pointed at a socket that does not exist)", { timeout: 300_000 }, () => {
  let h: FleetHarness;
  before(async () => {
    h = await fleetHarness({ ...ENV, DOCKER_HOST: `unix:///tmp/twl-doctor-${TAG}/no-docker.sock` });
    await h.startDaemon();
  });
  after(async () => {
    await h?.cleanup();
  });

  test("the socket row and the daemon's connection row fail, with the command that fixes them", () => {
    const { code, report } = doctor(h);
    assertFails(report, "dockerd", /no-docker\.sock: not answering \(ENOENT\)/);
    assert.match(row(report, "dockerd").fix ?? "", /ensure_docker|systemctl start docker/);
    const d = assertFails(report, "daemon-docker", /no Docker connection/);
    assert.match(d.fix ?? "", /hermes-admin down && hermes-admin up/);
    assert.equal(row(report, "daemon").status, "pass", "the daemon itself runs");
    assert.equal(code, 8);
  });
});

describe("hermes-admin doctor: the daemon down", { timeout: 120_000 }, () => {
  test("host rows still run; the daemon row fails with `hermes-admin up`", async () => {
    const h = await fleetHarness(ENV);
    try {
      const { code, report } = doctor(h);
      const c = assertFails(report, "daemon", /no live daemon/);
      assert.match(c.fix ?? "", /hermes-admin up/);
      assert.ok(row(report, "disk"));
      assert.equal(code, 8);
    } finally {
      await h.cleanup();
    }
  });
});
