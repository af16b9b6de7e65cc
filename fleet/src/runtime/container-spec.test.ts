import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { LABELS, MANAGED_BY, parseEnv } from "@twilight/core";
import {
  buildContainerSpec,
  CONTAINER_PORT,
  DATA_SOCKET_MOUNT,
  limitsForPlan,
  PLAN_LIMITS,
  SPEC_HASH_LABEL,
} from "./container-spec.js";
import type { WorkloadSpec } from "./types.js";

function spec(over: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    profile: "test-container-1",
    tier: "container",
    generation: 3,
    dir: "/srv/twilight/profiles/test-container-1",
    uid: 23017,
    gid: 23018,
    port: 18742,
    image: "twilight/hermes-profile:0.1.0",
    skillsDir: "/srv/twilight/skills",
    logDir: "/srv/twilight/logs/test-container-1",
    ...over,
  };
}

test("name, user, workdir and labels come from the spec", () => {
  const b = buildContainerSpec(spec());
  assert.equal(b.name, "hermes-test-container-1-g3");
  assert.equal(b.User, "23017:23018");
  assert.equal(b.WorkingDir, "/profile");
  const { [SPEC_HASH_LABEL]: hash, ...labels } = b.Labels ?? {};
  assert.deepEqual(labels, {
    [LABELS.generation]: "3",
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.profile]: "test-container-1",
    [LABELS.role]: "profile",
    [LABELS.tier]: "container",
  });
  assert.match(hash ?? "", /^[0-9a-f]{16}$/);
});

test("mounts: profile rw at /profile, skills ro at /skills and at its host path; nothing else, never the docker socket", () => {
  const b = buildContainerSpec(spec());
  const mounts = b.HostConfig?.Mounts ?? [];
  assert.deepEqual(
    mounts.map((m) => [m.Source, m.Target, m.ReadOnly]),
    [
      ["/srv/twilight/profiles/test-container-1", "/profile", false],
      ["/srv/twilight/skills", "/skills", true],
      ["/srv/twilight/skills", "/srv/twilight/skills", true],
    ],
  );
  assert.equal(b.HostConfig?.Binds, undefined);
  assert.doesNotMatch(JSON.stringify(b), /docker\.sock/);
  // A skills dir under a system path is not mirrored (it would shadow the image).
  for (const skillsDir of ["/usr/share/skills", "/etc/skills", "/app/skills", "/tmp"]) {
    const sys = buildContainerSpec(spec({ skillsDir }));
    assert.deepEqual(
      (sys.HostConfig?.Mounts ?? []).map((m) => m.Target),
      ["/profile", "/skills"],
      skillsDir,
    );
  }
  // Below /tmp or /var is fine (the mount lands on the tmpfs / a fresh directory).
  const tmp = buildContainerSpec(spec({ skillsDir: "/tmp/twl-x/skills" }));
  assert.equal(tmp.HostConfig?.Mounts?.[2]?.Target, "/tmp/twl-x/skills");
});

test("hardening: read-only root, tmpfs /tmp, no capabilities, no-new-privileges, no restart by Docker", () => {
  const h = buildContainerSpec(spec()).HostConfig ?? {};
  assert.equal(h.ReadonlyRootfs, true);
  assert.deepEqual(Object.keys(h.Tmpfs ?? {}), ["/tmp"]);
  assert.deepEqual(h.CapDrop, ["ALL"]);
  assert.equal(h.CapAdd, undefined);
  assert.deepEqual(h.SecurityOpt, ["no-new-privileges"]);
  assert.equal(h.Privileged, false);
  assert.deepEqual(h.RestartPolicy, { Name: "no", MaximumRetryCount: 0 });
  assert.equal(h.NetworkMode, "bridge", "the engine's default bridge: no embedded DNS to set up at start");
  assert.deepEqual(h.LogConfig, { Type: "json-file", Config: { "max-size": "10m", "max-file": "3" } });
});

test("the data service's socket directory is mounted read-only (the profile reaches it with no shared network)", () => {
  const m = buildContainerSpec(spec(), { dataSocketDir: "/srv/twl/ops/mcp-run" }).HostConfig?.Mounts ?? [];
  assert.deepEqual(
    m.find((x) => x.Target === DATA_SOCKET_MOUNT),
    { Type: "bind", Source: "/srv/twl/ops/mcp-run", Target: "/run/twilight", ReadOnly: true },
  );
  assert.equal(
    (buildContainerSpec(spec()).HostConfig?.Mounts ?? []).some((x) => x.Target === DATA_SOCKET_MOUNT),
    false,
    "no directory, no mount",
  );
});

test("limits come from the plan or the options", () => {
  const pro = limitsForPlan("dedicated_pro");
  const h = buildContainerSpec(spec(), { limits: pro }).HostConfig ?? {};
  assert.equal(h.Memory, pro.memoryBytes);
  assert.equal(h.MemorySwap, pro.memoryBytes);
  assert.equal(h.NanoCpus, pro.nanoCpus);
  assert.equal(h.PidsLimit, pro.pids);
  assert.deepEqual(limitsForPlan(null), PLAN_LIMITS.get("default"));
  const d = buildContainerSpec(spec()).HostConfig ?? {};
  assert.equal(d.Memory, PLAN_LIMITS.get("default")?.memoryBytes);
});

test("issue 9 item 4: a plan named like a prototype property never yields a workload without limits", () => {
  // before: PLAN_LIMITS["constructor"] was Object's constructor, so Memory/NanoCpus/PidsLimit were undefined
  for (const plan of ["constructor", "__proto__", "toString", "unknown-plan"])
    assert.throws(() => limitsForPlan(plan), /valid plans are basic, pro, dedicated_pro/, plan);
  for (const plan of ["basic", "pro", "dedicated_pro"]) {
    const l = limitsForPlan(plan);
    assert.ok(l.memoryBytes > 0 && l.nanoCpus > 0 && l.pids > 0, plan);
  }
});

test("the API port is published on 127.0.0.1 only", () => {
  const b = buildContainerSpec(spec());
  assert.deepEqual(b.ExposedPorts, { [`${CONTAINER_PORT}/tcp`]: {} });
  assert.deepEqual(b.HostConfig?.PortBindings, { "8642/tcp": [{ HostIp: "127.0.0.1", HostPort: "18742" }] });
  assert.equal(b.HostConfig?.PublishAllPorts, undefined);
});

test("no secret from the profile's .env reaches the create body", () => {
  const dir = mkdtempSync(join(tmpdir(), "twl-spec-"));
  try {
    const envText = [
      "HERMES_PROFILE=test-container-1",
      "API_SERVER_KEY=hk_9s8d7f6g5h4j3k2l1qwertyuiopasdfghjklzx",
      "SILICONFLOW_API_KEY=sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL",
      "TWILIGHT_API_TOKEN=tw_QWERTYUIOPASDFGHJKLZXCVBNM0123456789abcdefg",
      "MCP_TUSHARE_TOKEN=tmcp_ZXCVBNMASDFGHJKLQWERTYUIOP0123456789zz",
      "WEIXIN_HOME_CHANNEL=wxid_home@chatroom",
    ].join("\n");
    writeFileSync(join(dir, ".env"), envText, { mode: 0o600 });
    const json = JSON.stringify(buildContainerSpec(spec({ dir })));
    const secrets = Object.entries(parseEnv(envText)).filter(([k]) => k !== "HERMES_PROFILE");
    assert.equal(secrets.length, 5);
    for (const [k, v] of secrets) {
      assert.ok(!json.includes(v), `${k}'s value must not appear in the container spec`);
      assert.ok(!json.includes(k), `${k} must not appear in the container spec`);
    }
    const env = buildContainerSpec(spec({ dir })).Env ?? [];
    assert.deepEqual(
      env.map((e) => e.split("=")[0]),
      ["API_SERVER_HOST", "API_SERVER_PORT", "HERMES_HOME", "HOME", "PATH", "TWILIGHT_APP_DIR"],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("standby adds TWILIGHT_STANDBY=1 and changes the spec hash", () => {
  const plain = buildContainerSpec(spec());
  const standby = buildContainerSpec(spec({ standby: true }));
  assert.ok(standby.Env?.includes("TWILIGHT_STANDBY=1"));
  assert.ok(!plain.Env?.some((e) => e.startsWith("TWILIGHT_STANDBY")));
  assert.notEqual(plain.Labels?.[SPEC_HASH_LABEL], standby.Labels?.[SPEC_HASH_LABEL]);
  assert.notEqual(
    plain.Labels?.[SPEC_HASH_LABEL],
    buildContainerSpec(spec(), { limits: limitsForPlan("dedicated_pro") }).Labels?.[SPEC_HASH_LABEL],
  );
});

test("deterministic: the same spec gives byte-identical JSON", () => {
  assert.equal(JSON.stringify(buildContainerSpec(spec())), JSON.stringify(buildContainerSpec(spec())));
  assert.notEqual(JSON.stringify(buildContainerSpec(spec())), JSON.stringify(buildContainerSpec(spec({ generation: 4 }))));
});

test("refuses root, prefab tier, relative paths, missing image and bad names", () => {
  assert.throws(() => buildContainerSpec(spec({ uid: 0 })), /never root/);
  assert.throws(() => buildContainerSpec(spec({ gid: 0 })), /never root/);
  assert.throws(() => buildContainerSpec(spec({ tier: "prefab" })), /not container/);
  assert.throws(() => buildContainerSpec(spec({ dir: "profiles/x" })), /absolute/);
  assert.throws(() => buildContainerSpec(spec({ dir: "/srv/../etc" })), /absolute/);
  assert.throws(() => buildContainerSpec(spec({ image: undefined })), /no container image/);
  assert.equal(buildContainerSpec(spec({ image: undefined }), { image: "x:1" }).Image, "x:1");
  assert.throws(() => buildContainerSpec(spec({ profile: "Bad_Name" })), /invalid/);
  assert.throws(() => buildContainerSpec(spec({ port: 0 })), /bad port/);
  // A skills dir that holds the profiles would expose every profile to every container.
  assert.throws(() => buildContainerSpec(spec({ skillsDir: "/srv/twilight" })), /expose profiles/);
});

test("options: network, health check and init can be changed", () => {
  const b = buildContainerSpec(spec(), { network: "twl-test", healthcheck: false, init: false });
  assert.equal(b.HostConfig?.NetworkMode, "twl-test");
  assert.equal(b.Healthcheck, undefined);
  assert.equal(b.HostConfig?.Init, false);
  const withHc = buildContainerSpec(spec());
  assert.deepEqual(withHc.Healthcheck?.Test?.slice(0, 3), ["CMD", "node", "-e"]);
});
