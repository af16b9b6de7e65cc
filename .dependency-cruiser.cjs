/**
 * Import rules, checked by `npm run deps` (part of `npm test`): dependencies point one way.
 * - No workspace imports another except `core` (backend talks to the fleet over HTTP/SSH only).
 * - Inside fleet: main.ts -> cli -> verify -> client -> contract; daemon -> service -> supervisor -> workload ->
 *   runtime | registry | profiles | template | images | mcp-service | gateway-service; nothing imports upward; the drivers (runtime/)
 *   know nothing of the registry; the contract knows nothing of the fleet.
 * Tests, test kits and benches may reach across layers of their own workspace.
 */
const F = "^fleet/src/";
const layer = (...names) => `${F}(${names.join("|")})/`;
const notTests = "(\\.test\\.ts$|/testing/|/e2e/|/bench/)";

/** Rule: code in `from` must not import anything in `to`. */
const forbid = (name, comment, from, to) => ({
  name,
  comment,
  severity: "error",
  from: { path: from, pathNot: notTests },
  to: { path: to },
});

module.exports = {
  forbidden: [
    {
      name: "workspace-imports-only-core",
      comment: "a workspace imports no other workspace except core",
      severity: "error",
      from: { path: "^(fleet|agent|mcp|skill|backend|gateway)/" },
      to: { path: "^(fleet|agent|mcp|skill|backend|gateway)/", pathNot: "^$1/" },
    },
    {
      name: "workspace-packages-only-core",
      comment: "the same rule for package imports: @twilight/core is the only workspace package anyone imports",
      severity: "error",
      from: {},
      to: { path: "(^|/)@twilight/(?!core($|/))" },
    },
    {
      name: "core-imports-nothing-of-ours",
      severity: "error",
      from: { path: "^core/" },
      to: { path: "^(fleet|agent|mcp|skill|backend|gateway)/" },
    },
    forbid("no-circular-layers", "nothing imports the entry point", `${F}(?!main\\.ts)`, `${F}main\\.ts$`),
    forbid(
      "cli-is-a-client",
      "the CLI reaches the daemon only through client/ and the contract",
      layer("cli"),
      layer(
        "daemon",
        "service",
        "supervisor",
        "workload",
        "runtime",
        "registry",
        "profiles",
        "template",
        "images",
        "mcp-service",
        "gateway-service",
        "docker",
      ),
    ),
    forbid(
      "verify-below-cli",
      "verify is used by the CLI, never the reverse",
      layer("verify"),
      layer("cli", "daemon", "service", "supervisor", "workload", "runtime", "registry"),
    ),
    forbid(
      "client-below-verify",
      "the client knows only the contract",
      layer("client"),
      layer("cli", "verify", "daemon", "service", "supervisor", "workload", "runtime", "registry", "images"),
    ),
    forbid("contract-is-a-leaf", "the contract knows nothing of the fleet", layer("contract"), `${F}(?!contract/)`),
    forbid("daemon-not-a-client", "the daemon never imports the CLI side", layer("daemon"), layer("cli", "client", "verify")),
    forbid(
      "service-below-daemon",
      "services never import transports",
      layer("service"),
      layer("daemon", "cli", "client", "verify"),
    ),
    forbid(
      "supervisor-below-service",
      "the supervisor stands on workload/, not on service/",
      layer("supervisor"),
      layer("service", "daemon", "cli", "client", "verify"),
    ),
    forbid(
      "workload-below-supervisor",
      "workload/ is the floor both service/ and supervisor/ stand on",
      layer("workload"),
      layer("supervisor", "service", "daemon", "cli", "client", "verify"),
    ),
    forbid(
      "engines-are-leaves",
      "drivers, registry, template, profiles, images and helpers never import the layers above them",
      layer("runtime", "registry", "profiles", "template", "images", "mcp-service", "gateway-service", "docker", "lib", "units"),
      layer("workload", "supervisor", "service", "daemon", "cli", "client", "verify", "contract"),
    ),
    forbid(
      "drivers-know-no-registry",
      "a runtime driver knows its own spec and handle only",
      layer("runtime"),
      layer("registry"),
    ),
    { name: "no-circular", severity: "error", from: {}, to: { circular: true, viaOnly: { pathNot: "^$" } } },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(dist|node_modules)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.deps.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
    moduleSystems: ["es6"],
  },
};
