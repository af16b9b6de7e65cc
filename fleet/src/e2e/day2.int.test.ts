/**
 * Issue 16, end to end: a profile with a 3-turn conversation is backed up, purged, restored under its own name and
 * under a new name on the other tier, and turn 4 continues there; the archive holds no plaintext secret or message and
 * no host file a planted link points at; a tampered archive is refused. Export on one fleet, import on a second
 * (another ops dir, port and uid range): the conversation continues there and the source refuses to start.
 * Real daemons, real Docker, a real data service.
 */
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseEnv } from "@twilight/core";
import { buildImages } from "../images/index.js";
import { McpService } from "../mcp-service/index.js";
import { openArchive } from "../profiles/backup-archive.js";
import { ensureBackupKey } from "../profiles/backup-key.js";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";
import { ProfileClient } from "../verify/profile-client.js";

interface P {
  name: string;
  tier: string;
  status: string;
  profile_path: string;
}
interface Backup {
  file: string;
  bytes: number;
  skipped: Array<{ path: string; reason: string }>;
}

const SRC = "d2-src";
const COPY = "d2-copy";
const HOST_MARKER = `host-only-${process.pid}-${Date.now()}-do-not-archive`;

describe("day-2: backup, restore, export/import", () => {
  let h: FleetHarness;
  let h2: FleetHarness | undefined;
  let mcp: McpService;
  let sessionId = "";
  let archive = "";
  const hostFile = `/tmp/twl-d2-host-${process.pid}`;
  const svc = `twilight-mcp-it-day2-${process.pid}`;
  const row = (f: FleetHarness, name: string) =>
    f.cliJson<{ profiles: P[] }>(["list", "--no-stats"]).profiles.find((p) => p.name === name);
  const clientOf = (f: FleetHarness, name: string) => new ProfileClient(name, f.url, (row(f, name) as P).profile_path);
  const users = async (c: ProfileClient) =>
    ((await c.session(sessionId))?.messages ?? []).filter((m) => m.role === "user").length;

  before(async () => {
    await buildImages({ only: ["profile", "mcp"] });
    const mcpPort = 19899;
    const common = {
      FLEET_MCP_URL_PREFAB: `http://127.0.0.1:${mcpPort}/mcp`,
      FLEET_MCP_URL_CONTAINER: `http://${svc}:9100/mcp`,
      FLEET_START_TIMEOUT_MS: "90000",
    };
    h = await fleetHarness({ ...common, FLEET_PORT_RANGE: "19801-19890", FLEET_UID_RANGE: "61000-61099" });
    // prefab profiles reach the data service on its unix socket (config.yaml names it), containers on its network name
    mcp = new McpService({ name: svc, hostPort: mcpPort, dataDir: join(h.ops, "mcp"), socketDir: join(h.ops, "mcp-run") });
    await mcp.up();
    await eventually(
      async () => {
        const r = await fetch(`http://127.0.0.1:${mcpPort}/health`).catch(() => undefined);
        const b = (await r?.json().catch(() => undefined)) as { scheduler?: { last_success_at?: string } } | undefined;
        return Boolean(b?.scheduler?.last_success_at);
      },
      120_000,
      "data service seeded",
    );
    await h.startDaemon();
    const r = h.cli(["spawn", SRC, "--tier", "prefab"]);
    assert.equal(r.code, 0, r.stderr);
    writeFileSync(hostFile, `${HOST_MARKER}\n`, { mode: 0o644 });
  });
  after(async () => {
    await h2?.cleanup();
    await h?.cleanup();
    await mcp?.down().catch(() => undefined);
    rmSync(hostFile, { force: true });
  });

  test("backup -> rm --purge -> restore (same name; new name on the other tier): turn 4 continues; no plaintext inside", async (t) => {
    const c = clientOf(h, SRC);
    const t1 = await c.chat("What is the latest close of 600519?");
    assert.equal(t1.status, 200, t1.error);
    assert.match(t1.content.replace(/,/g, ""), /\d+\.\d\d/, "turn 1 answers with a cited figure");
    sessionId = t1.sessionId;
    for (const q of ["And its fundamentals for 2024?", "What was its close on 20241230?"]) {
      const a = await c.chat(q, sessionId);
      assert.equal(a.status, 200, a.error);
    }
    assert.equal(await users(c), 3);
    // the tenant plants links to a host file and to /etc inside its own directories
    const dir = (row(h, SRC) as P).profile_path;
    symlinkSync(hostFile, join(dir, "home", "leak.txt"));
    symlinkSync("/etc", join(dir, "memories", "etc"));

    const b = h.cliJson<Backup>(["backup", SRC]);
    t.diagnostic(`archive ${b.bytes} bytes at ${b.file}`);
    archive = b.file;
    assert.match(b.file, new RegExp(`${h.ops}/backups/${SRC}@\\d{8}T\\d{6}Z\\.age$`));
    assert.deepEqual(
      b.skipped.map((s) => s.path).sort(),
      ["home/leak.txt", "memories/etc"],
      "links are listed as skipped, never followed",
    );
    const bytes = readFileSync(b.file);
    const env = parseEnv(readFileSync(join(dir, ".env"), "utf8"));
    const secrets = ["API_SERVER_KEY", "SILICONFLOW_API_KEY", "TWILIGHT_API_TOKEN", "MCP_TUSHARE_TOKEN"].map(
      (k) => env[k] as string,
    );
    // the plaintext holds them (so the grep below means something) ...
    const key = await ensureBackupKey(join(h.ops, "backup-key"));
    const { entries, manifest } = await openArchive(b.file, bytes, key.identity);
    const plain = Buffer.concat([...entries.values()]);
    assert.ok(secrets.every((s) => s.length > 16 && plain.includes(s)));
    assert.ok(plain.includes("latest close of 600519"));
    assert.ok(!plain.includes(HOST_MARKER), "a host file behind a planted link is not in the archive");
    assert.ok(!Object.keys(manifest.files).some((p) => p.includes("etc/") || p.includes("leak")));
    assert.ok(manifest.files["tenant/data/state.db"], "state.db is in the archive");
    // ... and the archive does not
    for (const s of secrets) assert.ok(!bytes.includes(s), "no plaintext secret in the archive");
    assert.ok(!bytes.includes("latest close of 600519"), "no plaintext message in the archive");
    assert.ok(!bytes.includes("SQLite format 3"), "no plaintext database in the archive");
    assert.equal(readFileSync(join(h.ops, "backup-key"), "utf8").includes("AGE-SECRET-KEY-1"), true);

    assert.equal(h.cli(["rm", SRC, "--force", "--purge"]).code, 0);
    assert.equal(row(h, SRC), undefined);

    const same = h.cliJson<{ profile: P; from: string }>(["restore", b.file]);
    assert.equal(same.profile.name, SRC);
    assert.equal(same.profile.tier, "prefab");
    assert.equal(same.profile.status, "running");
    const c2 = clientOf(h, SRC);
    assert.equal(c2.apiKey, env.API_SERVER_KEY, "the profile's own API key comes back");
    const t4 = await c2.chat("What was its close on 20241231?", sessionId);
    assert.equal(t4.status, 200, t4.error);
    assert.match(t4.content.replace(/,/g, ""), /1524\.00/, "turn 4 resolves 'its' from turn 1");
    assert.equal(await users(c2), 4);

    const copy = h.cliJson<{ profile: P }>(["restore", b.file, "--as", COPY, "--tier", "container"]);
    assert.equal(copy.profile.tier, "container");
    assert.equal(copy.profile.status, "running");
    const c3 = clientOf(h, COPY);
    const t4b = await c3.chat("What was its close on 20241231?", sessionId);
    assert.equal(t4b.status, 200, t4b.error);
    assert.match(t4b.content.replace(/,/g, ""), /1524\.00/);
    assert.equal(await users(c3), 4);
    const copyEnv = parseEnv(readFileSync(join(copy.profile.profile_path, ".env"), "utf8"));
    assert.notEqual(copyEnv.MCP_TUSHARE_TOKEN, env.MCP_TUSHARE_TOKEN, "a second name gets its own data-service token");
    assert.equal(copyEnv.HERMES_PROFILE, COPY);

    const list = h.cliJson<{ backups: Array<{ file: string }> }>(["backups", SRC]).backups;
    assert.ok(list.some((x) => x.file === b.file));
  });

  test("a tampered or foreign archive is refused with a clear error, and nothing is created", async () => {
    assert.ok(archive, "needs the first test's archive");
    const bad = `${archive}.tampered`;
    copyFileSync(archive, bad);
    const bytes = readFileSync(bad);
    const at = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
    writeFileSync(bad, bytes);
    const r = h.cli(["restore", bad, "--as", "d2-tampered"]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /refusing backup archive .*tampered: it does not decrypt/);
    assert.match(r.stderr, /hint: nothing was restored/);
    assert.equal(row(h, "d2-tampered"), undefined);
    const exists = h.cli(["restore", archive]);
    assert.notEqual(exists.code, 0);
    assert.match(exists.stderr, /profile d2-src exists/);
  });

  test("export on fleet 1, import on fleet 2: the conversation continues there, the source refuses to start", async () => {
    assert.ok(sessionId, "needs the first test's conversation");
    h2 = await fleetHarness({
      FLEET_MCP_URL_PREFAB: h.env.FLEET_MCP_URL_PREFAB as string,
      FLEET_MCP_URL_CONTAINER: h.env.FLEET_MCP_URL_CONTAINER as string,
      // the same data service (a platform service both hosts reach)
      FLEET_MCP_DATA_DIR: join(h.ops, "mcp"),
      FLEET_MCP_SOCKET_DIR: join(h.ops, "mcp-run"),
      FLEET_PORT_RANGE: "19901-19949",
      FLEET_UID_RANGE: "61100-61199",
      FLEET_START_TIMEOUT_MS: "90000",
    });
    await h2.startDaemon();
    const recipient = h2.cliJson<{ recipient: string }>(["backup-key"]).recipient;
    const out = join(h.ops, `export-${SRC}.age`);
    const e = h.cliJson<{ fenced: boolean; file: string }>(["export", SRC, "--to", recipient, "--out", out]);
    assert.equal(e.fenced, true);
    assert.equal((row(h, SRC) as P).status, "stopped");
    const start = h.cli(["start", SRC]);
    assert.notEqual(start.code, 0);
    assert.match(start.stderr, /exported .* fenced/);

    const imp = h2.cliJson<{ profile: P; kind: string }>(["import", out]);
    assert.equal(imp.kind, "export");
    assert.equal(imp.profile.status, "running");
    const c = clientOf(h2, SRC);
    const t5 = await c.chat("What was its close on 20241231?", sessionId);
    assert.equal(t5.status, 200, t5.error);
    assert.match(t5.content.replace(/,/g, ""), /1524\.00/);
    assert.equal(await users(c), 5);
    const events = h2.cliJson<{ events: Array<{ action: string; result: string }> }>(["events", SRC]).events;
    assert.ok(events.some((x) => x.action === "import" && x.result === "ok"));
    // the operator can take it back deliberately
    assert.equal(h.cliJson<{ unfenced: boolean }>(["unfence", SRC]).unfenced, true);
  });

  test("restore over an existing profile needs --force, which backs it up first", () => {
    const before = h.cliJson<{ backups: Array<{ file: string }> }>(["backups", SRC]).backups.length;
    const r = h.cli(["restore", archive, "--force", "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { profile: P }).profile.status, "running");
    const after = h.cliJson<{ backups: Array<{ file: string }> }>(["backups", SRC]).backups.length;
    assert.equal(after, before + 1, "the profile it replaced was backed up first");
  });
});
