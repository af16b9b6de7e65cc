import assert from "node:assert/strict";
import { chownSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { ArchiveRejected, encryptArchive, entryPathOk, openArchive, packArchive } from "./backup-archive.js";
import { collectTenantFiles } from "./backup-collect.js";

const meta = {
  kind: "backup" as const,
  profile: "p-1",
  tier: "prefab",
  plan: null,
  user_id: null,
  generation: 1,
  runtime_version: "prefab@0.1.0",
  image: null,
  created_at: "2026-12-01T00:00:00.000Z",
  skipped: [],
};

async function sealed(entries: Map<string, { data: Buffer; mode: number }>) {
  const id = await generateX25519Identity();
  const { tar } = await packArchive(meta, entries);
  return { id, tar, bytes: await encryptArchive(tar, [await identityToRecipient(id)]) };
}

describe("backup archive format", () => {
  test("entry paths: only the manifest, secrets, known fleet files and tenant directories", () => {
    for (const ok of ["manifest.json", "secrets.json", "fleet/SOUL.md", "tenant/data/state.db", "tenant/home/a/b.txt"])
      assert.equal(entryPathOk(ok), true, ok);
    for (const bad of [
      "../x",
      "fleet/.env",
      "fleet/config.yaml",
      "tenant/../../etc/passwd",
      "tenant/etc/x",
      "/abs",
      "tenant/data",
      "tenant//x",
      "tenant/home/./x",
    ])
      assert.equal(entryPathOk(bad), false, bad);
  });

  test("round trip; nothing readable in the sealed bytes", async () => {
    const entries = new Map([
      ["secrets.json", { data: Buffer.from('{"API_SERVER_KEY":"hk_secretvalue"}'), mode: 0o600 }],
      ["tenant/memories/MEMORY.md", { data: Buffer.from("remember the user likes 600519"), mode: 0o600 }],
    ]);
    const { id, bytes } = await sealed(entries);
    assert.ok(!Buffer.from(bytes).includes("hk_secretvalue"));
    assert.ok(!Buffer.from(bytes).includes("600519"));
    const { manifest, entries: out } = await openArchive("/a.age", bytes, id);
    assert.equal(manifest.profile, "p-1");
    assert.equal(out.get("tenant/memories/MEMORY.md")?.toString(), "remember the user likes 600519");
  });

  test("a flipped byte, a truncated file or another fleet's key is refused with a typed error and a hint", async () => {
    const { id, bytes } = await sealed(new Map([["secrets.json", { data: Buffer.from("{}"), mode: 0o600 }]]));
    const flipped = Uint8Array.from(bytes);
    flipped[flipped.length - 20] = (flipped[flipped.length - 20] ?? 0) ^ 1;
    await assert.rejects(openArchive("/f.age", flipped, id), (e: unknown) => {
      assert.ok(e instanceof ArchiveRejected);
      assert.equal(e.code, "INPUT_INVALID");
      assert.match(e.message, /does not decrypt/);
      assert.match(e.hint ?? "", /nothing was restored/);
      return true;
    });
    await assert.rejects(openArchive("/t.age", bytes.subarray(0, bytes.length - 10), id), ArchiveRejected);
    await assert.rejects(
      openArchive("/o.age", bytes, await generateX25519Identity()),
      /not encrypted to this fleet's backup key/,
    );
  });

  test("an entry that does not match its manifest checksum is refused (an archive sealed with a forged manifest)", async () => {
    const id = await generateX25519Identity();
    const { tar } = await packArchive(meta, new Map([["secrets.json", { data: Buffer.from("{}"), mode: 0o600 }]]));
    // same length, different content: swap the secrets payload in the plaintext tar before sealing
    const forged = Buffer.from(tar.toString("latin1").replace("{}", "[]"), "latin1");
    const bytes = await encryptArchive(forged, [await identityToRecipient(id)]);
    await assert.rejects(openArchive("/x.age", bytes, id), /secrets.json does not match its checksum/);
  });
});

describe("collecting a hostile tenant's files", () => {
  const dir = mkdtempSync("/tmp/twl-collect-");
  const uid = 61990;
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("links are not followed; files of another owner and hard links are left out", async () => {
    for (const d of ["data", "memories", "logs", "home", "sessions", "cron"]) mkdirSync(join(dir, d));
    writeFileSync(join(dir, "memories", "MEMORY.md"), "mine");
    chownSync(join(dir, "memories", "MEMORY.md"), uid, uid);
    writeFileSync(join(dir, "host-secret"), "HOST-ONLY");
    symlinkSync(join(dir, "host-secret"), join(dir, "home", "link"));
    symlinkSync("/etc", join(dir, "logs", "etc"));
    linkSync(join(dir, "host-secret"), join(dir, "home", "hard"));
    writeFileSync(join(dir, "home", "roots"), "root-owned");
    const c = await collectTenantFiles(dir, uid);
    assert.deepEqual([...c.files.keys()], ["tenant/memories/MEMORY.md"]);
    const why = Object.fromEntries(c.skipped.map((s) => [s.path, s.reason]));
    assert.match(why["home/link"] ?? "", /symbolic link/);
    assert.match(why["logs/etc"] ?? "", /symbolic link/);
    assert.match(why["home/hard"] ?? "", /owned by uid 0/);
    assert.match(why["home/roots"] ?? "", /owned by uid 0/);
  });
});
