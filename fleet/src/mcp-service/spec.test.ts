import assert from "node:assert/strict";
import { test } from "node:test";
import { LABELS, MANAGED_BY } from "@twilight/core";
import { buildMcpContainerSpec, buildMcpSwarmSpec, SPEC_HASH_LABEL } from "./spec.js";

const base = {
  image: "twilight/mcp-tushare:0.1.0",
  imageId: "sha256:aa",
  dataDir: "/srv/twilight/ops/mcp",
  user: { uid: 9100, gid: 9100 },
};

test("the data service container: name, network, loopback port, data mount, fixed env, labels", () => {
  const b = buildMcpContainerSpec(base);
  assert.equal(b.name, "twilight-mcp-tushare");
  assert.equal(b.HostConfig?.NetworkMode, "twilight");
  assert.deepEqual(b.HostConfig?.PortBindings, { "9100/tcp": [{ HostIp: "127.0.0.1", HostPort: "9100" }] });
  assert.deepEqual(b.HostConfig?.Mounts, [{ Type: "bind", Source: "/srv/twilight/ops/mcp", Target: "/data", ReadOnly: false }]);
  assert.deepEqual(b.Env, ["HOME=/tmp", "MCP_DATA_DIR=/data", "MCP_HOST=0.0.0.0", "MCP_PORT=9100"]);
  assert.equal(b.Labels?.[LABELS.managedBy], MANAGED_BY);
  assert.equal(b.Labels?.[LABELS.role], "data-service");
  assert.equal(b.HostConfig?.ReadonlyRootfs, true);
  assert.deepEqual(b.HostConfig?.CapDrop, ["ALL"]);
  assert.deepEqual(b.HostConfig?.RestartPolicy, { Name: "unless-stopped" });
  assert.doesNotMatch(JSON.stringify(b), /docker\.sock/);
});

test("the spec hash changes with the spec and the image id, and is stable otherwise", () => {
  const h = (o = {}) => buildMcpContainerSpec({ ...base, ...o }).Labels?.[SPEC_HASH_LABEL];
  assert.equal(h(), h());
  assert.notEqual(h(), h({ imageId: "sha256:bb" }));
  assert.notEqual(h(), h({ hostPort: 9200 }));
  assert.notEqual(h(), h({ env: { MCP_WATCH_LIST: "600519.SH" } }));
});

test("refuses a relative data dir, a bad port, and overriding the fixed settings", () => {
  assert.throws(() => buildMcpContainerSpec({ ...base, dataDir: "ops/mcp" }), /absolute/);
  assert.throws(() => buildMcpContainerSpec({ ...base, hostPort: 0 }), /bad host port/);
  assert.throws(() => buildMcpContainerSpec({ ...base, env: { MCP_HOST: "127.0.0.1" } }), /set by the fleet/);
});

test("issue 9 item 10: the data service never runs as root, and its socket directory is mounted for prefab profiles", () => {
  assert.throws(() => buildMcpContainerSpec({ ...base, user: { uid: 0, gid: 0 } }), /must not run as root/);
  assert.throws(() => buildMcpContainerSpec({ ...base, user: { uid: 9100, gid: 0 } }), /must not run as root/);
  const b = buildMcpContainerSpec({ ...base, socketDir: "/srv/ops/mcp-run" });
  assert.equal(b.User, "9100:9100");
  assert.ok(b.Env?.includes("MCP_SOCKET_PATH=/run/twilight/mcp.sock"));
  assert.deepEqual(b.HostConfig?.Mounts?.[1], {
    Type: "bind",
    Source: "/srv/ops/mcp-run",
    Target: "/run/twilight",
    ReadOnly: false,
  });
});

test("the data service on the swarm: one writer on the data's node, stop-first, hardened, reachable by name and port", () => {
  const b = buildMcpSwarmSpec({ ...base, socketDir: "/run/twl", node: "node-a", overlay: "twilight-swarm" });
  assert.equal(b.Name, "twilight-mcp-tushare");
  assert.deepEqual(b.Mode, { Replicated: { Replicas: 1 } }, "one writer: the warehouse is one DuckDB file");
  assert.equal(b.UpdateConfig.Order, "stop-first", "an update never runs two processes on the file");
  assert.deepEqual(b.TaskTemplate.Placement.Constraints, ["node.labels.io.twilight.node==node-a"]);
  assert.equal(b.TaskTemplate.RestartPolicy.Condition, "any");
  assert.deepEqual(b.TaskTemplate.Networks, [{ Target: "twilight-swarm", Aliases: ["twilight-mcp-tushare"] }]);
  assert.deepEqual(b.EndpointSpec.Ports, [{ Protocol: "tcp", TargetPort: 9100, PublishedPort: 9100, PublishMode: "host" }]);
  const c = b.TaskTemplate.ContainerSpec;
  assert.equal(c.Image, "sha256:aa", "by id: no registry lookup");
  assert.equal(c.User, "9100:9100");
  assert.equal(c.ReadOnly, true);
  assert.deepEqual(c.CapabilityDrop, ["ALL"]);
  assert.deepEqual(c.Healthcheck, { Test: ["NONE"] });
  // the same environment and mounts as the container
  assert.deepEqual(c.Env, buildMcpContainerSpec({ ...base, socketDir: "/run/twl" }).Env);
  assert.equal(b.Labels[LABELS.role], "data-service");
  assert.throws(() => buildMcpSwarmSpec({ ...base, user: { uid: 0, gid: 0 }, node: "a", overlay: "o" }), /root/);
  const h = (o = {}) => buildMcpSwarmSpec({ ...base, node: "node-a", overlay: "o", ...o }).Labels[SPEC_HASH_LABEL];
  assert.equal(h(), h());
  assert.notEqual(h(), h({ node: "node-b" }));
});
