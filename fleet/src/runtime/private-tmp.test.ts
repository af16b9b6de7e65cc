import assert from "node:assert/strict";
import { test } from "node:test";
import { enterArgv, hiddenByPrivateTmp, tmpfsMountArgv } from "./private-tmp.js";

test("private /tmp: a tmpfs of the plan's size, never executable devices or setuid", () => {
  assert.deepEqual(tmpfsMountArgv(64 * 1024 * 1024), [
    "/bin/mount",
    "-t",
    "tmpfs",
    "-o",
    "size=67108864,mode=1777,nosuid,nodev",
    "twilight-tmp",
    "/tmp",
  ]);
  // entering a mount namespace resets the working directory to /: the profile's directory is set again
  assert.deepEqual(enterArgv("/run/twilight/mountns/ns-1", "/srv/p/a"), [
    "/usr/bin/nsenter",
    "--mount=/run/twilight/mountns/ns-1",
    "--wd=/srv/p/a",
    "--",
  ]);
});

test("private /tmp is refused when it would hide what the profile reads (a fleet or repo under /tmp)", () => {
  assert.equal(hiddenByPrivateTmp(["/var/lib/twilight", "/opt/app", "/usr/bin/node"]), null);
  assert.equal(hiddenByPrivateTmp(["/var/lib/twilight", "/tmp/fresh/agent"]), "/tmp/fresh/agent");
  assert.equal(hiddenByPrivateTmp(["/tmp"]), "/tmp");
  assert.equal(hiddenByPrivateTmp(["/tmpfoo/x"]), null, "only /tmp itself and below");
});
