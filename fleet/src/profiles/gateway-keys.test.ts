import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sha256Hex } from "@twilight/core";
import { GatewayKeyFile } from "./gateway-keys.js";

test("the gateway key file holds hashes only; set replaces a profile's key (rotation); revoke removes it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gwkeys-"));
  const f = new GatewayKeyFile(dir);
  const k1 = "sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  const k2 = "sk-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  await Promise.all([f.set("a", "basic", k1), f.set("b", "pro", k2)]);
  const text = readFileSync(f.path, "utf8");
  assert.ok(!text.includes(k1) && !text.includes(k2), "no plaintext key on disk");
  const keys = JSON.parse(text).keys as Record<string, { profile: string; plan: string }>;
  assert.equal(keys[sha256Hex(k1)]?.profile, "a");
  assert.equal(keys[sha256Hex(k2)]?.plan, "pro");
  await assert.rejects(f.set("c", "basic", k1), /another profile/);
  const k3 = "sk-ccccccccccccccccccccccccccccccccccccccccccccc";
  await f.set("a", "basic", k3);
  assert.deepEqual((await f.profiles()).sort(), ["a", "b"]);
  assert.equal(JSON.parse(readFileSync(f.path, "utf8")).keys[sha256Hex(k1)], undefined, "the old key is gone");
  await f.revoke("a");
  assert.deepEqual(await f.profiles(), ["b"]);
});

test("a key file that does not parse is refused, never rewritten", async () => {
  const dir = mkdtempSync(join(tmpdir(), "gwkeys-"));
  const f = new GatewayKeyFile(dir);
  writeFileSync(f.path, "{nope");
  await assert.rejects(f.revoke("a"), /cannot be used/);
  assert.equal(readFileSync(f.path, "utf8"), "{nope");
});
