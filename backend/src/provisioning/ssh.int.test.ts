/**
 * Transport A against Debian's OpenSSH server on loopback: our own sshd (own config, host key, authorized_keys with
 * `restrict,command="..."`) runs as a child of the test. Until the fleet ships `hermes-admin provision --stdin`, the
 * forced command is a stub of ours that records its stdin and answers a canned profile in the fleet's shape.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { freePort, isDomainError } from "@twilight/core";
import { json, type Stack, startStack, until } from "../testkit.js";
import { hostKeyFingerprint, SshFleetTransport } from "./ssh.js";

const SSHD = "/usr/sbin/sshd";
const skip = !existsSync(SSHD) && "openssh-server is not installed (apt-get install openssh-server)";
const dir = mkdtempSync(join(tmpdir(), "billing-sshd-"));
let sshd: ChildProcess | undefined;
let port = 0;
let fingerprint = "";
let clientKey = "";

const STUB = `#!${process.execPath}
const fs = require("node:fs");
let input = "";
process.stdin.on("data", (c) => (input += c));
process.stdin.on("end", () => {
  fs.appendFileSync(${JSON.stringify(join(dir, "requests.ndjson"))}, input.trim() + "\\n");
  const r = JSON.parse(input);
  if (r.action) {
    if (r.name === "tw-unknown") {
      process.stdout.write(JSON.stringify({ error: { code: "NOT_FOUND", message: "no such profile" } }) + "\\n");
      process.exit(3);
    }
    process.stdout.write(JSON.stringify({ ok: true, action: r.action }) + "\\n");
    return;
  }
  if (r.user_id === "u-refuse") {
    process.stdout.write(JSON.stringify({ error: { code: "INPUT_INVALID", message: "refused by stub" } }) + "\\n");
    process.exit(2);
  }
  const base = "http://127.0.0.1:9/p/" + r.name;
  process.stdout.write(JSON.stringify({
    created: true,
    profile: { name: r.name, tier: r.tier, status: "running", status_url: base + "/health", api_base: base + "/v1" },
    connection: { status_url: base + "/health", api_base: base + "/v1", session_header: "X-Hermes-Session-Id" },
  }) + "\\n");
});
`;

function transport(over: Partial<ConstructorParameters<typeof SshFleetTransport>[0]> = {}) {
  return new SshFleetTransport({
    host: "127.0.0.1",
    port,
    username: "root",
    privateKey: clientKey,
    hostKeySha256: fingerprint,
    timeoutMs: 15_000,
    ...over,
  });
}

before(async () => {
  if (skip) return;
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "twilight-provisioner", "-f", join(dir, "client_key")]);
  clientKey = readFileSync(join(dir, "client_key"), "utf8");
  const blob = Buffer.from((readFileSync(join(dir, "host_key.pub"), "utf8").split(" ")[1] as string) ?? "", "base64");
  fingerprint = hostKeyFingerprint(blob);
  const fromKeygen = execFileSync("ssh-keygen", ["-lf", join(dir, "host_key.pub")], { encoding: "utf8" }).split(" ")[1];
  assert.equal(fingerprint, fromKeygen, "our fingerprint matches ssh-keygen -lf");
  writeFileSync(join(dir, "provision-stub"), STUB);
  chmodSync(join(dir, "provision-stub"), 0o755);
  const pub = readFileSync(join(dir, "client_key.pub"), "utf8").trim();
  writeFileSync(join(dir, "authorized_keys"), `restrict,command="${join(dir, "provision-stub")} provision --stdin" ${pub}\n`, {
    mode: 0o600,
  });
  port = await freePort();
  const conf = [
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${join(dir, "host_key")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "StrictModes no",
    "LogLevel ERROR",
  ];
  writeFileSync(join(dir, "sshd_config"), `${conf.join("\n")}\n`);
  sshd = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  await until("sshd listening", async () => {
    const s = createServer();
    const busy = await new Promise<boolean>((r) => {
      s.once("error", () => r(true));
      s.listen(port, "127.0.0.1", () => s.close(() => r(false)));
    });
    return busy;
  });
});

after(() => {
  sshd?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

test("provision over SSH: the forced command gets the JSON request on stdin and answers the profile", { skip }, async () => {
  const r = await transport().provision({
    name: "tw-0123456789abcdef",
    tier: "prefab",
    plan: "basic",
    user_id: "u-ssh",
    set: { WEIXIN_HOME_CHANNEL: "wxid_ssh" },
    idempotency_key: "ord_abc",
  });
  assert.equal(r.created, true);
  assert.equal(r.connection.api_base, "http://127.0.0.1:9/p/tw-0123456789abcdef/v1");
  const req = JSON.parse(readFileSync(join(dir, "requests.ndjson"), "utf8").trim().split("\n").at(-1) ?? "{}");
  assert.equal(req.idempotency_key, "ord_abc");
  assert.deepEqual(req.set, { WEIXIN_HOME_CHANNEL: "wxid_ssh" });
});

test("an error answer on stdout is a typed, non-retryable error; a wrong host key is refused", { skip }, async () => {
  await assert.rejects(
    transport().provision({
      name: "tw-x",
      tier: "prefab",
      plan: "basic",
      user_id: "u-refuse",
      set: {},
      idempotency_key: "ord_x",
    }),
    (e: unknown) => isDomainError(e) && e.code === "INPUT_INVALID" && !e.retryable,
  );
  await assert.rejects(
    transport({ hostKeySha256: `SHA256:${"A".repeat(43)}` }).provision({
      name: "tw-y",
      tier: "prefab",
      plan: "basic",
      user_id: "u",
      set: {},
      idempotency_key: "o",
    }),
    (e: unknown) => isDomainError(e) && e.code === "UNAVAILABLE" && e.retryable,
  );
});

test(
  "lifecycle over SSH: stop and delete go through the same forced command; an unknown profile counts as done",
  { skip },
  async () => {
    await transport().act({ name: "tw-0123456789abcdef", action: "stop", idempotency_key: "ord_abc:stop" });
    const req = JSON.parse(readFileSync(join(dir, "requests.ndjson"), "utf8").trim().split("\n").at(-1) ?? "{}");
    assert.deepEqual(req, { action: "stop", name: "tw-0123456789abcdef", idempotency_key: "ord_abc:stop" });
    await transport().act({ name: "tw-unknown", action: "delete", idempotency_key: "ord_x:delete" });
  },
);

test("end to end through SSH: pay -> notification -> outbox -> sshd forced command -> provisioned", { skip }, async () => {
  const s: Stack = await startStack({ transport: transport() });
  try {
    const o = await json<{ order_id: string; out_trade_no: string }>(
      fetch(`${s.url}/v1/orders`, {
        method: "POST",
        body: JSON.stringify({ user_id: "u-ssh-e2e", plan: "basic", channel: "wxid_e2e" }),
      }),
    );
    await fetch(`${s.simUrl}/sim/pay/${o.out_trade_no}`, { method: "POST", body: "{}" });
    const v = await until("provisioned over ssh", async () => {
      const x = await json<{ status: string; connection: { api_key?: string; api_base: string } }>(
        fetch(`${s.url}/v1/orders/${o.order_id}`),
      );
      return x.status === "provisioned" && x;
    });
    assert.ok(v.connection.api_key);
    const last = JSON.parse(readFileSync(join(dir, "requests.ndjson"), "utf8").trim().split("\n").at(-1) ?? "{}");
    assert.equal(last.idempotency_key, o.order_id);
    assert.equal(last.set.API_SERVER_KEY, v.connection.api_key);
  } finally {
    await s.close();
  }
});
