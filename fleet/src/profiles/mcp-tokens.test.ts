import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { McpTokenFile } from "./mcp-tokens.js";

const root = mkdtempSync(join(tmpdir(), "twl-tokens-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("issue 9 item 7: a tokens file that does not parse is refused, never rewritten as empty", async () => {
  const dir = mkdtempSync(join(root, "a-"));
  const f = new McpTokenFile(dir);
  await f.set("alice", "tmcp_alice");
  await f.set("bob", "tmcp_bob");
  const good = readFileSync(f.path, "utf8");
  writeFileSync(f.path, good.slice(0, good.length / 2)); // a torn write / hand edit
  const torn = readFileSync(f.path, "utf8");
  // before: read() returned {} and set() wrote a file with carol only: alice and bob lost data access
  await assert.rejects(f.set("carol", "tmcp_carol"), (e: Error) => {
    assert.equal((e as { code?: string }).code, "PRECONDITION");
    assert.match(e.message, new RegExp(`${f.path}.*refusing to rewrite`));
    return true;
  });
  assert.equal(readFileSync(f.path, "utf8"), torn, "the file is left as it was");
  assert.ok(existsSync(`${f.path}.prev`), "the copy before the last change is kept");
  // the kept copy is the file as it was before the last change (alice only): the operator restores it and re-registers
  writeFileSync(f.path, readFileSync(`${f.path}.prev`));
  assert.deepEqual(await f.profiles(), ["alice"]);
  await f.set("bob", "tmcp_bob");
  await f.set("carol", "tmcp_carol");
  assert.deepEqual((await f.profiles()).sort(), ["alice", "bob", "carol"]);
});

test("issue 9 item 8: a token belongs to one profile only (B cannot take A's token)", async () => {
  const f = new McpTokenFile(mkdtempSync(join(root, "b-")));
  await f.set("alice", "tmcp_shared");
  // before: set() silently moved the token to bob and alice lost data access
  await assert.rejects(f.set("bob", "tmcp_shared"), /already belongs to another profile/);
  assert.deepEqual(await f.profiles(), ["alice"]);
  await f.set("alice", "tmcp_new"); // rotating one's own token is fine
  assert.deepEqual(await f.profiles(), ["alice"]);
});

test("a file naming one profile under two tokens, or prototype keys, is refused", async () => {
  const f = new McpTokenFile(mkdtempSync(join(root, "c-")));
  const h = (c: string) => c.repeat(64);
  writeFileSync(
    f.path,
    JSON.stringify({
      version: 1,
      tokens: { [h("a")]: { profile: "x", issued_at: "" }, [h("b")]: { profile: "x", issued_at: "" } },
    }),
  );
  await assert.rejects(f.profiles(), /has two tokens/);
  writeFileSync(f.path, '{"version":1,"tokens":{"__proto__":{"profile":"x"}}}');
  await assert.rejects(f.profiles(), /malformed/);
});
