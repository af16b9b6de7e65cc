import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { FleetClient } from "../client/client.js";
import { type CheckEnv, isolationCheck } from "./checks.js";

function env(execs: string[][]): CheckEnv {
  const fleet = {
    exec: async (_n: string, argv: string[]) => {
      execs.push(argv);
      return argv[0] === "sh"
        ? { exit: 0, stdout: "readable\n", stderr: "" }
        : { exit: 1, stdout: "", stderr: "Permission denied" };
    },
  } as unknown as FleetClient;
  return { fleet, keys: new Map(), requestLog: async () => undefined, all: [] };
}

test(".env isolation fails with a clear row when a profile's .env is world-readable", async () => {
  const dir = mkdtempSync(join(tmpdir(), "twl-iso-"));
  try {
    chmodSync(dir, 0o750);
    writeFileSync(join(dir, ".env"), "A=1\n", { mode: 0o644 });
    chmodSync(join(dir, ".env"), 0o644);
    const calls: string[][] = [];
    // run as root in tests: the directory's group is root's (0), the "profile uid" here
    const r = await isolationCheck(env(calls), { name: "p1", tier: "prefab", uid: process.getgid?.() ?? 0, profile_path: dir });
    assert.equal(r.ok, false);
    assert.equal(r.check, ".env isolation");
    assert.match(r.detail, /\.env mode 644 is readable by others/);
    chmodSync(join(dir, ".env"), 0o640);
    const ok = await isolationCheck(
      { ...env(calls), all: [{ name: "p2", tier: "prefab", uid: 1, profile_path: "/nonexistent/p2" }] },
      { name: "p1", tier: "prefab", uid: process.getgid?.() ?? 0, profile_path: dir },
    );
    assert.equal(ok.ok, true, ok.detail);
    assert.ok(calls.some((c) => c.join(" ") === "cat /nonexistent/p2/.env"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
