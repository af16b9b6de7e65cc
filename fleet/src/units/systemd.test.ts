import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { limitsForPlan } from "../runtime/limits.js";
import { sandboxArgv, sandboxSpec } from "../runtime/sandbox.js";
import { renderSystemdUnit, unitName } from "./systemd.js";

const input = {
  profile: "test-basic-1",
  dir: "/srv/ops/profiles/test-basic-1",
  uid: 20001,
  gid: 20001,
  nodePath: process.execPath,
  entry: "/srv/app/agent/dist/main.js",
  appDir: "/srv/app",
  path: "/srv/app/skill/stock-research/bin:/usr/bin:/bin",
  sandbox: sandboxSpec({ plan: "dedicated_pro", dir: "/srv/ops/profiles/test-basic-1" }),
};

test("issue 9 item 5: the unit and the process driver come from one sandbox spec (limits per plan)", () => {
  const u = renderSystemdUnit(input);
  const limits = limitsForPlan("dedicated_pro");
  assert.ok(u.includes(`MemoryMax=${limits.memoryBytes}\n`));
  assert.ok(u.includes(`TasksMax=${limits.pids}\n`));
  assert.ok(u.includes("NoNewPrivileges=yes"));
  // the process driver: the same limits, privileges dropped by setpriv after entering the private /tmp's namespace
  const argv = sandboxArgv(input.sandbox, ["node", "main.js"], {
    uid: 40001,
    gid: 40001,
    enter: ["/usr/bin/nsenter", "--mount=/ns", "--"],
  });
  assert.deepEqual(argv, [
    "/usr/bin/nsenter",
    "--mount=/ns",
    "--",
    "/usr/bin/setpriv",
    "--reuid=40001",
    "--regid=40001",
    "--clear-groups",
    "--no-new-privs",
    "--",
    "/usr/bin/prlimit",
    `--nproc=${limits.pids}:${limits.pids}`,
    "--",
    "node",
    "main.js",
  ]);
});

test("the unit runs as the profile's uid in its directory with its .env and sandboxing", () => {
  const u = renderSystemdUnit(input);
  assert.equal(unitName("test-basic-1"), "hermes-profile-test-basic-1.service");
  for (const line of [
    "User=20001",
    "Group=20001",
    "WorkingDirectory=/srv/ops/profiles/test-basic-1",
    "EnvironmentFile=/srv/ops/profiles/test-basic-1/.env",
    "Restart=on-failure",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "ReadWritePaths=/srv/ops/profiles/test-basic-1",
    "CapabilityBoundingSet=",
  ]) {
    assert.ok(u.split("\n").includes(line), line);
  }
  assert.match(u, /^ExecStart=".+node" "\/srv\/app\/agent\/dist\/main.js"$/m);
  assert.match(
    renderSystemdUnit({ ...input, nodeFlags: ["--max-semi-space-size=1"] }),
    /^ExecStart=".+node" "--max-semi-space-size=1" "\/srv\/app\/agent\/dist\/main.js"$/m,
  );
});

test("systemd-analyze verify accepts the unit (where systemd-analyze is installed)", (t) => {
  if (!existsSync("/usr/bin/systemd-analyze")) return t.skip("systemd-analyze not installed");
  const dir = mkdtempSync(join(tmpdir(), "twl-unit-"));
  try {
    const entry = join(dir, "main.js");
    writeFileSync(entry, "");
    const file = join(dir, unitName("test-basic-1"));
    writeFileSync(file, renderSystemdUnit({ ...input, dir, entry }));
    writeFileSync(join(dir, ".env"), "A=1\n");
    const r = spawnSync("systemd-analyze", ["verify", "--man=no", file], { encoding: "utf8" });
    const problems = `${r.stderr}`
      .split("\n")
      .filter((l) => l.includes(unitName("test-basic-1")) && !/Failed to .*(bus|connect)|System has not been booted/.test(l));
    assert.deepEqual(problems, [], r.stderr);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
