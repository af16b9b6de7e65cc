import assert from "node:assert/strict";
import { test } from "node:test";
import { LABELS, MANAGED_BY } from "@twilight/core";
import { CONTAINER_PORT, limitsForPlan } from "./container-spec.js";
import {
  buildServiceSpec,
  ENV_SECRET_PATH,
  envSecretName,
  IMAGE_LABEL,
  NODE_LABEL,
  nodeConstraint,
  SERVICE_HASH_LABEL,
  SWARM_NETWORK,
  secretLabels,
  serviceHash,
} from "./swarm-spec.js";
import type { WorkloadSpec } from "./types.js";

function spec(over: Partial<WorkloadSpec> = {}): WorkloadSpec {
  return {
    profile: "test-swarm-1",
    tier: "swarm",
    generation: 2,
    dir: "/srv/twilight/profiles/test-swarm-1",
    uid: 23017,
    gid: 23018,
    port: 18743,
    plan: "pro",
    image: "twilight/hermes-profile:0.1.0",
    skillsDir: "/srv/twilight/skills",
    logDir: "/srv/twilight/logs/test-swarm-1",
    ...over,
  };
}
const opts = { node: "node-a", secret: { id: "sec123", name: "hermes-test-swarm-1-g2-env-0123456789ab" }, imageId: "sha256:abc" };

test("one replica of the image by id, as the profile's uid, in /profile, named like every workload", () => {
  const b = buildServiceSpec(spec(), opts);
  assert.equal(b.Name, "hermes-test-swarm-1-g2");
  assert.deepEqual(b.Mode, { Replicated: { Replicas: 1 } });
  const cs = b.TaskTemplate.ContainerSpec;
  assert.equal(cs.Image, "sha256:abc", "by id: a task never asks a registry");
  assert.equal(b.Labels[IMAGE_LABEL], "twilight/hermes-profile:0.1.0");
  assert.equal(cs.User, "23017:23018");
  assert.equal(cs.Dir, "/profile");
  const { [SERVICE_HASH_LABEL]: hash, ...labels } = b.Labels;
  assert.deepEqual(labels, {
    [LABELS.generation]: "2",
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.profile]: "test-swarm-1",
    [LABELS.role]: "profile",
    [LABELS.tier]: "swarm",
    [IMAGE_LABEL]: "twilight/hermes-profile:0.1.0",
  });
  assert.match(hash ?? "", /^[0-9a-f]{16}$/);
  assert.equal(cs.Labels[LABELS.profile], "test-swarm-1", "the task's container carries the labels too");
});

test("hardened like the container tier: read-only, no capabilities, no new privileges, limits of the plan", () => {
  const b = buildServiceSpec(spec(), opts);
  const cs = b.TaskTemplate.ContainerSpec;
  assert.equal(cs.ReadOnly, true);
  assert.deepEqual(cs.CapabilityDrop, ["ALL"]);
  assert.deepEqual(cs.Privileges, { NoNewPrivileges: true });
  assert.equal(cs.Init, true);
  const l = limitsForPlan("pro");
  assert.deepEqual(b.TaskTemplate.Resources.Limits, { NanoCPUs: l.nanoCpus, MemoryBytes: l.memoryBytes, Pids: l.pids });
  assert.deepEqual(cs.Healthcheck, { Test: ["NONE"] }, "health is the fleet's: Swarm must not gate or kill the task");
  assert.deepEqual(b.TaskTemplate.RestartPolicy, { Condition: "none" }, "the fleet's supervisor restarts, not Swarm");
  assert.equal(b.UpdateConfig.Order, "stop-first", "never two tasks on one state.db");
  const mounts = cs.Mounts as Array<{ Type: string; Source?: string; Target: string; ReadOnly?: boolean }>;
  assert.deepEqual(
    mounts.map((m) => [m.Type, m.Target, m.ReadOnly ?? null]),
    [
      ["bind", "/profile", false],
      ["bind", "/skills", true],
      ["bind", "/srv/twilight/skills", true],
      ["tmpfs", "/tmp", null],
    ],
  );
});

test("secrets only as a Docker secret: a file readable by the profile's uid alone, never in Env", () => {
  const b = buildServiceSpec(spec(), opts);
  const cs = b.TaskTemplate.ContainerSpec;
  assert.deepEqual(cs.Secrets, [
    {
      File: { Name: "hermes.env", UID: "23017", GID: "23018", Mode: 0o400 },
      SecretID: "sec123",
      SecretName: "hermes-test-swarm-1-g2-env-0123456789ab",
    },
  ]);
  assert.ok(cs.Env.includes(`HERMES_ENV_FILE=${ENV_SECRET_PATH}`));
  for (const e of cs.Env) assert.doesNotMatch(e.split("=")[0] ?? "", /KEY|TOKEN|SECRET/i, e);
});

test("placed on the node holding the directory; published in host mode; DNS round-robin on the overlay", () => {
  const b = buildServiceSpec(spec(), opts);
  assert.deepEqual(b.TaskTemplate.Placement.Constraints, [`node.labels.${NODE_LABEL}==node-a`]);
  assert.equal(nodeConstraint("node-b"), `node.labels.${NODE_LABEL}==node-b`);
  assert.deepEqual(b.EndpointSpec, {
    Mode: "dnsrr",
    Ports: [{ Protocol: "tcp", TargetPort: CONTAINER_PORT, PublishedPort: 18743, PublishMode: "host" }],
  });
  assert.deepEqual(b.TaskTemplate.Networks, [{ Target: SWARM_NETWORK, Aliases: ["hermes-test-swarm-1-g2"] }]);
  assert.throws(() => buildServiceSpec(spec(), { ...opts, node: "a b;rm" }), /bad node name/);
});

test("standby start for a live migration; the spec hash ignores scaling but sees everything else", () => {
  const b = buildServiceSpec(spec({ standby: true }), opts);
  assert.ok(b.TaskTemplate.ContainerSpec.Env.includes("TWILIGHT_STANDBY=1"));
  const a = buildServiceSpec(spec(), opts);
  assert.notEqual(a.Labels[SERVICE_HASH_LABEL], b.Labels[SERVICE_HASH_LABEL]);
  const scaled = buildServiceSpec(spec(), { ...opts, replicas: 0 });
  assert.equal(serviceHash(scaled), serviceHash(a));
  const otherSecret = buildServiceSpec(spec(), { ...opts, secret: { id: "s2", name: "n2" } });
  assert.notEqual(serviceHash(otherSecret), serviceHash(a));
});

test("secret names follow the content (rotation = a new secret); labels let cleanup find them", () => {
  const s = spec();
  const a = envSecretName(s, "API_SERVER_KEY=a\n");
  assert.match(a, /^hermes-test-swarm-1-g2-env-[0-9a-f]{12}$/);
  assert.equal(envSecretName(s, "API_SERVER_KEY=a\n"), a);
  assert.notEqual(envSecretName(s, "API_SERVER_KEY=b\n"), a);
  assert.equal(secretLabels(s)[LABELS.role], "profile-secret");
  assert.equal(secretLabels(s)[LABELS.profile], "test-swarm-1");
});

test("refuses what the container tier refuses: root, a foreign tier, a skills dir holding the profiles", () => {
  assert.throws(() => buildServiceSpec(spec({ uid: 0 }), opts), /never root/);
  assert.throws(() => buildServiceSpec(spec({ tier: "container" }), opts), /not swarm/);
  assert.throws(() => buildServiceSpec(spec({ skillsDir: "/srv/twilight" }), opts), /expose profiles/);
});
