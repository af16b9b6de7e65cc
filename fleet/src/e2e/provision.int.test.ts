/**
 * Issue 10, the fleet's side of billing's transports, with real processes: the daemon, `hermes-admin`, and Debian's
 * sshd on loopback (own config, host key and authorized_keys, started by this test, stopped by pid).
 * - HTTP: `PUT /v1/profiles/{name}` signed with a provisioning credential provisions (once per idempotency key); the
 *   same credential cannot call anything else; forged, replayed, stale or tampered requests are refused, nothing made.
 * - SSH: a deploy key installed with `hermes-admin ssh authorize` runs `provision --stdin` and nothing else.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { freePort, signProvisionRequest } from "@twilight/core";
import { type FleetHarness, fleetHarness } from "../testing/harness.js";
import { sshdConfig } from "../verify/ssh-transport.js";

const SSHD = "/usr/sbin/sshd";
const skipSsh = !existsSync(SSHD) && "openssh-server is not installed (scripts/lib/common.sh ensure_test_tools)";

describe("provisioning transports against the real fleet", () => {
  let h: FleetHarness;
  let keyId = "";
  let secret = "";
  const sshDir = mkdtempSync(join(tmpdir(), "twl-sshd-"));
  let sshd: ChildProcess | undefined;
  let sshPort = 0;

  const signedPut = (
    name: string,
    body: object,
    o: { key?: string; secret?: string; nonce?: string; now?: number; idem?: string } = {},
  ) => {
    const path = `/v1/profiles/${name}`;
    const raw = JSON.stringify(body);
    const headers = signProvisionRequest({
      keyId: o.key ?? keyId,
      secret: o.secret ?? secret,
      method: "PUT",
      path,
      body: raw,
      ...(o.nonce ? { nonce: o.nonce } : {}),
      ...(o.now ? { now: o.now } : {}),
    });
    return {
      path,
      raw,
      headers: { ...headers, "content-type": "application/json", ...(o.idem ? { "idempotency-key": o.idem } : {}) },
    };
  };
  const send = (r: { path: string; raw: string; headers: Record<string, string> }, method = "PUT") =>
    fetch(`${h.url}${r.path}`, { method, headers: r.headers, body: r.raw });
  const names = () => h.cliJson<{ profiles: Array<{ name: string; order_id: string | null }> }>(["list", "--no-stats"]).profiles;

  before(async () => {
    h = await fleetHarness();
    await h.startDaemon();
    const k = h.cliJson<{ key_id: string; secret: string }>(["provision-key", "create", "billing-test"]);
    keyId = k.key_id;
    secret = k.secret;
  });
  after(async () => {
    if (sshd?.pid) process.kill(sshd.pid, "SIGTERM");
    rmSync(sshDir, { recursive: true, force: true });
    await h?.cleanup();
  });

  test("HTTP: a signed request provisions exactly once per idempotency key, with the billing actor", async () => {
    const body = { tier: "prefab", plan: "basic", user_id: "u-42", set: { WEIXIN_HOME_CHANNEL: "wxid_42" } };
    const first = await send(signedPut("tw-0000000000000042", body, { idem: "ord_42" }));
    assert.equal(first.status, 201, await first.clone().text());
    const j = (await first.json()) as { created: boolean; connection: { api_base: string } };
    assert.equal(j.created, true);
    const again = await send(signedPut("tw-0000000000000042", body, { idem: "ord_42" })); // a WeChat retry: new nonce
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { created: boolean }).created, false);
    assert.equal(names().filter((p) => p.order_id === "ord_42").length, 1);
    const ev = h.cliJson<{ events: Array<{ actor: string; action: string }> }>(["events", "tw-0000000000000042"]).events;
    assert.ok(
      ev.some((e) => e.action === "spawn" && e.actor === `billing:${keyId}`),
      JSON.stringify(ev),
    );
  });

  test("HTTP: forged, replayed, stale, tampered and unknown-key requests are refused (401) and create nothing", async () => {
    const body = { tier: "prefab", plan: "basic", user_id: "u-x" };
    const before = names().length;
    const good = signedPut("tw-00000000000000aa", body, { idem: "ord_aa" });
    const cases: Array<[string, { path: string; raw: string; headers: Record<string, string> }]> = [
      ["wrong secret", signedPut("tw-00000000000000aa", body, { secret: "pk_wrong" })],
      ["unknown key", signedPut("tw-00000000000000aa", body, { key: "nobody" })],
      ["stale timestamp", signedPut("tw-00000000000000aa", body, { now: Math.floor(Date.now() / 1000) - 3600 })],
      ["tampered body", { ...good, raw: JSON.stringify({ ...body, plan: "dedicated_pro" }) }],
      ["no signature", { ...good, headers: { "content-type": "application/json" } }],
    ];
    for (const [what, r] of cases) {
      const res = await send(r);
      assert.equal(res.status, 401, `${what}: ${await res.text()}`);
    }
    const once = signedPut("tw-00000000000000ab", body, { nonce: "nonce-used-once-123456" });
    assert.equal((await send(once)).status, 201);
    const replay = await send(once);
    assert.equal(replay.status, 401, "the same signed request twice");
    assert.match(await replay.text(), /already used/);
    assert.equal(names().length, before + 1);
  });

  test("HTTP: the provisioning credential can provision and nothing else", async () => {
    for (const [method, path] of [
      ["GET", "/v1/profiles"],
      ["DELETE", "/v1/profiles/tw-0000000000000042"],
      ["POST", "/v1/provision-keys"],
    ] as const) {
      const headers = signProvisionRequest({ keyId, secret, method, path, body: "" });
      const res = await fetch(`${h.url}${path}`, { method, headers });
      assert.equal(res.status, 401, `${method} ${path}`);
    }
  });

  test(
    "SSH: a deploy key from `ssh authorize` runs provision --stdin against the fleet, and nothing else",
    { skip: skipSsh },
    async () => {
      mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(sshDir, "host_key")]);
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "billing", "-f", join(sshDir, "deploy")]);
      const line = h.cli(["ssh", "authorize", `@${join(sshDir, "deploy.pub")}`], {});
      assert.equal(line.code, 0, line.stderr);
      assert.match(
        line.stdout,
        /^restrict,command="\/usr\/bin\/env TWILIGHT_OPS_DIR=\S+ \S+ \S+ provision --stdin" ssh-ed25519 /,
      );
      writeFileSync(join(sshDir, "authorized_keys"), line.stdout, { mode: 0o600 });
      sshPort = await freePort();
      writeFileSync(join(sshDir, "sshd_config"), sshdConfig(sshDir, sshPort));
      sshd = spawn(SSHD, ["-D", "-e", "-f", join(sshDir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
      for (let i = 0; i < 100; i++) {
        const ok = await new Promise<boolean>((r) => {
          const s = createServer();
          s.once("error", () => r(true)); // in use: sshd listens
          s.listen(sshPort, "127.0.0.1", () => s.close(() => r(false)));
        });
        if (ok) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const ssh = (input: string, extra: string[] = []) =>
        spawnSync(
          "ssh",
          [
            ...["-i", join(sshDir, "deploy"), "-p", String(sshPort), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes"],
            ...["-o", `UserKnownHostsFile=${join(sshDir, "known_hosts")}`, "-o", "StrictHostKeyChecking=accept-new"],
            "root@127.0.0.1",
            ...extra,
          ],
          { input, encoding: "utf8", timeout: 120_000, env: { PATH: process.env.PATH } },
        );
      const req = { name: "tw-00000000000000b1", tier: "prefab", plan: "pro", user_id: "u-ssh", idempotency_key: "ord_ssh_1" };
      const r = ssh(JSON.stringify(req));
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { created: boolean; profile: { name: string; status: string } };
      assert.deepEqual([out.created, out.profile.name, out.profile.status], [true, req.name, "running"]);
      const again = JSON.parse(ssh(JSON.stringify(req)).stdout) as { created: boolean };
      assert.equal(again.created, false, "the same order over SSH again: the same profile");
      // the key cannot do anything else: whatever command is asked for, the forced command runs (and refuses non-JSON)
      const shell = ssh("", ["cat", "/etc/shadow"]);
      assert.notEqual(shell.status, 0);
      assert.doesNotMatch(shell.stdout, /root:/);
      assert.match(shell.stdout, /"error"/);
      const bad = ssh(JSON.stringify({ ...req, name: "../etc", idempotency_key: "x" }));
      assert.equal(bad.status, 2);
      assert.match(bad.stdout, /INPUT_INVALID/);
      assert.equal(names().filter((p) => p.order_id === "ord_ssh_1").length, 1);
      assert.ok(readFileSync(join(h.ops, "admin-token"), "utf8").length > 0);
    },
  );
});
