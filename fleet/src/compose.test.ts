import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { composeForProfile, renderCompose } from "./compose.js";
import { buildContainerSpec, limitsForPlan } from "./runtime/container-spec.js";
import type { WorkloadSpec } from "./runtime/types.js";

const spec: WorkloadSpec = {
  profile: "test-container-1",
  tier: "container",
  generation: 2,
  dir: "/srv/twilight/profiles/test-container-1",
  uid: 23017,
  gid: 23017,
  port: 18742,
  image: "twilight/hermes-profile:0.1.0",
  skillsDir: "/srv/twilight/skills",
  logDir: "/srv/twilight/logs/test-container-1",
};

test("the compose service mirrors the container spec the driver sends", () => {
  const limits = limitsForPlan("dedicated_pro");
  const doc = composeForProfile(spec, { limits });
  const body = buildContainerSpec(spec, { limits });
  const svc = doc.services["hermes-test-container-1-g2"];
  assert.ok(svc);
  assert.equal(svc.image, body.Image);
  assert.equal(svc.container_name, "hermes-test-container-1-g2");
  assert.equal(svc.user, "23017:23017");
  assert.deepEqual(svc.labels, body.Labels);
  assert.deepEqual(svc.ports, ["127.0.0.1:18742:8642"]);
  // the engine's default bridge is a network_mode; a user-defined network (FLEET_CONTAINER_NETWORK) is external
  assert.equal(svc.network_mode, "bridge");
  assert.deepEqual(svc.networks, []);
  assert.deepEqual(doc.networks, {});
  const own = composeForProfile(spec, { limits, network: "twilight" });
  assert.deepEqual(own.services["hermes-test-container-1-g2"]?.networks, ["twilight"]);
  assert.equal(own.services["hermes-test-container-1-g2"]?.network_mode, undefined);
  assert.deepEqual(own.networks, { twilight: { external: true, name: "twilight" } });
  assert.equal(svc.read_only, true);
  assert.deepEqual(svc.tmpfs, ["/tmp:rw,noexec,nosuid,nodev,size=64m,mode=1777"]);
  assert.deepEqual(svc.cap_drop, ["ALL"]);
  assert.deepEqual(svc.security_opt, ["no-new-privileges"]);
  assert.equal(svc.mem_limit, limits.memoryBytes);
  assert.equal(svc.cpus, 1);
  assert.equal(svc.pids_limit, limits.pids);
  assert.equal(svc.restart, "no");
  assert.deepEqual(svc.logging, { driver: "json-file", options: { "max-size": "10m", "max-file": "3" } });
  assert.deepEqual(
    svc.volumes.map((v) => `${v.source}:${v.target}:${v.read_only ? "ro" : "rw"}`),
    [
      "/srv/twilight/profiles/test-container-1:/profile:rw",
      "/srv/twilight/skills:/skills:ro",
      "/srv/twilight/skills:/srv/twilight/skills:ro",
    ],
  );
  assert.equal(svc.environment.HERMES_HOME, "/profile");
  assert.equal(svc.healthcheck?.interval, "30s");
});

test("rendered YAML parses back to the same document and is deterministic", () => {
  const text = renderCompose(spec);
  assert.equal(text, renderCompose(spec));
  assert.deepEqual(parse(text), JSON.parse(JSON.stringify(composeForProfile(spec))));
  assert.match(text, /^# Compose service equivalent/);
  // docker-compose reads YAML 1.1, where a bare `no` is a boolean.
  assert.match(text, /restart: "no"/);
  assert.match(text, /user: "23017:23017"/);
  assert.doesNotMatch(text, /API_SERVER_KEY|TOKEN|docker\.sock/);
});

test("deploy/compose.yml: the data service on twilight, loopback 9100, hardened; the socket only for the fleet", () => {
  const file = fileURLToPath(new URL("../../deploy/compose.yml", import.meta.url));
  const doc = parse(readFileSync(file, "utf8"), { merge: true }) as {
    services: Record<string, Record<string, unknown>>;
    networks: Record<string, { name?: string }>;
  };
  const mcp = doc.services["mcp-tushare"] as Record<string, unknown>;
  assert.equal(mcp.container_name, "twilight-mcp-tushare");
  assert.deepEqual(mcp.ports, ["127.0.0.1:9100:9100"]);
  assert.deepEqual(mcp.networks, ["twilight"]);
  assert.equal(doc.networks.twilight?.name, "twilight");
  assert.equal(mcp.read_only, true);
  assert.deepEqual(mcp.cap_drop, ["ALL"]);
  assert.equal((mcp.environment as Record<string, string>).MCP_HOST, "0.0.0.0");
  assert.equal((mcp.labels as Record<string, string>)["io.twilight.managed-by"], "twilight-fleet");
  assert.doesNotMatch(JSON.stringify(mcp), /docker\.sock/);
  const fleet = doc.services.fleet as Record<string, unknown>;
  assert.match(String(fleet.image), /^twilight\/fleet:/);
  assert.ok((fleet.volumes as unknown[]).some((v) => String(v).includes("/var/run/docker.sock")));
});
