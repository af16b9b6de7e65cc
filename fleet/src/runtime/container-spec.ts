/**
 * The container tier's spec: a PURE function from a WorkloadSpec to the Docker Engine API create-container body
 * (POST /containers/create). No I/O here; the driver (docker.ts) only sends what this returns. Unit-tested.
 *
 * Layout inside a profile container (contract 2 of the brief):
 *   /app       the image's application (read-only root filesystem)
 *   /profile   the profile directory (HERMES_HOME), bind-mounted read-write; the agent reads /profile/.env itself
 *   /tmp       tmpfs
 *   /run/twilight  the data service's socket directory (host: FLEET_MCP_SOCKET_DIR), read-only: the profile reaches the
 *              data service over its unix socket, as prefab profiles do, so the container needs no network shared with
 *              the data service (and no name resolution: it runs on the engine's default bridge)
 *   skills     the shared skills directory, read-only, mounted twice:
 *              - at its own absolute host path, so the `skills` symlink that the fleet puts in every profile directory
 *                (prefab contract: `<dir>/skills -> <skillsDir>`) resolves the same way inside the container as on the
 *                host; Docker is never asked to mount over a symlink, and the profile directory is not modified;
 *              - at the fixed path /skills, for tools that want a path that does not depend on the host.
 *              When the host path collides with a system path of the image it is not mirrored (then only /skills).
 * Environment: non-secrets only. Secrets stay in /profile/.env (0600, owned by the profile's uid).
 */

import { createHash } from "node:crypto";
import { assertProfileName, InputInvalid, LABELS, MANAGED_BY, workloadName } from "@twilight/core";
import type { ContainerCreateOptions } from "dockerode";
import type { WorkloadSpec } from "./types.js";

/** Port the profile's API server listens on inside the container (same as template/render.ts CONTAINER_API_PORT). */
export const CONTAINER_PORT = 8642;
/** The engine's default bridge: no embedded DNS to set up at start (~180 ms sooner than a user-defined network). */
export const DEFAULT_NETWORK = "bridge";
/** Where the data service's socket directory is mounted (read-only) in a profile container. */
export const DATA_SOCKET_MOUNT = "/run/twilight";
export const PROFILE_MOUNT = "/profile";
export const SKILLS_MOUNT = "/skills";
export const APP_DIR_IN_IMAGE = "/app";
export const CONTAINER_PATH = "/app/skill/stock-research/bin:/usr/local/bin:/usr/bin:/bin";
/** Label holding a hash of the create body: a stopped container whose spec changed is re-created, not restarted. */
export const SPEC_HASH_LABEL = "io.twilight.spec-hash";
/** Value of the io.twilight.role label on profile containers (the data service carries "data-service"). */
export const ROLE_PROFILE = "profile";

export type { ContainerLimits } from "./limits.js";

/**
 * Limits per plan. The plan sells `dedicated_pro` as the container tier; anything else gets the default. The pids limit
 * counts threads: Node uses ~12, plus the health check's own node process and `exec` sessions.
 */
export { limitsForPlan, PLAN_LIMITS } from "./limits.js";

import type { ContainerLimits } from "./limits.js";
import { limitsForPlan } from "./limits.js";

export interface LogRotation {
  maxSize: string;
  maxFile: number;
}

export interface ContainerSpecOptions {
  /** Image when the spec has none. */
  image?: string;
  /** Docker network (default: the engine's default bridge). */
  network?: string;
  /** The data service's socket directory on the host, mounted read-only at DATA_SOCKET_MOUNT. */
  dataSocketDir?: string;
  limits?: ContainerLimits;
  logs?: LogRotation;
  /** Docker health check on /health (only reported: the fleet, not Docker, restarts). Default true. */
  healthcheck?: boolean;
  /** Run a tiny init (docker-init) as PID 1 that forwards signals and reaps zombies. Default true. */
  init?: boolean;
  /** Seconds Docker waits after SIGTERM before SIGKILL when stopped without an explicit timeout. */
  stopTimeoutSeconds?: number;
}

/** The create body, plus the container name (a query parameter of the create call, kept here so one value names it). */
export type ContainerCreateBody = ContainerCreateOptions & { name: string; Image: string };

/** Paths (and everything under them) a mirrored skills mount must never shadow inside the image. */
const RESERVED_TREES = [
  "/app",
  "/profile",
  "/skills",
  "/proc",
  "/sys",
  "/dev",
  "/etc",
  "/usr",
  "/lib",
  "/lib64",
  "/bin",
  "/sbin",
];
/** Paths that may hold a mirrored mount below them but not be one (a mount below /tmp lands on the tmpfs). */
const RESERVED_EXACT = ["/", "/tmp", "/run", "/var", "/home", "/root"];

function isReserved(path: string): boolean {
  const p = path.replace(/\/+$/, "") || "/";
  return RESERVED_EXACT.includes(p) || RESERVED_TREES.some((r) => p === r || p.startsWith(`${r}/`));
}

function assertAbsolute(what: string, p: string): void {
  if (!p.startsWith("/") || p.split("/").includes(".."))
    throw new InputInvalid(`${what} must be an absolute path without '..': ${JSON.stringify(p)}`);
}

/** Labels of a profile workload: the compatibility contract cleanup and re-adoption rely on. */
export function profileLabels(spec: Pick<WorkloadSpec, "profile" | "tier" | "generation">): Record<string, string> {
  return {
    [LABELS.generation]: String(spec.generation),
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.profile]: spec.profile,
    [LABELS.role]: ROLE_PROFILE,
    [LABELS.tier]: spec.tier,
  };
}

/**
 * The only environment a profile container gets: no secrets (the agent reads $HERMES_HOME/.env itself).
 * TWILIGHT_STANDBY=1 only for a standby start (live migration); a later non-standby start re-creates the container.
 */
export function containerEnv(opts: { standby?: boolean } = {}): string[] {
  return [
    `API_SERVER_HOST=0.0.0.0`,
    `API_SERVER_PORT=${CONTAINER_PORT}`,
    `HERMES_HOME=${PROFILE_MOUNT}`,
    `HOME=${PROFILE_MOUNT}/home`,
    `PATH=${CONTAINER_PATH}`,
    `TWILIGHT_APP_DIR=${APP_DIR_IN_IMAGE}`,
    ...(opts.standby ? ["TWILIGHT_STANDBY=1"] : []),
  ];
}

/** Short hash of a create body without its own hash label. Pure. */
export function specHash(body: ContainerCreateOptions): string {
  const labels = { ...(body.Labels ?? {}) };
  delete labels[SPEC_HASH_LABEL];
  return createHash("sha256")
    .update(JSON.stringify({ ...body, Labels: labels }))
    .digest("hex")
    .slice(0, 16);
}

/** A health probe that needs nothing but node (the image has no curl). Exit 0 when /health answers 2xx. */
export function healthProbe(port: number): string[] {
  const js = `fetch('http://127.0.0.1:${port}/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`;
  return ["CMD", "node", "-e", js];
}

/**
 * The checks every containerised tier makes before it builds a spec (container and swarm), and the image to run.
 * Throws InputInvalid naming the field.
 */
export function checkContainerWorkload(spec: WorkloadSpec, tier: WorkloadSpec["tier"], fallbackImage?: string): string {
  assertProfileName(spec.profile);
  if (spec.tier !== tier) throw new InputInvalid(`profile ${spec.profile} is tier ${spec.tier}, not ${tier}`);
  if (!Number.isInteger(spec.generation) || spec.generation < 0) throw new InputInvalid(`bad generation ${spec.generation}`);
  for (const [k, v] of [
    ["uid", spec.uid],
    ["gid", spec.gid],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new InputInvalid(`${k} must be a positive integer (never root), got ${v}`);
  }
  if (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65535) throw new InputInvalid(`bad port ${spec.port}`);
  assertAbsolute("profile directory", spec.dir);
  assertAbsolute("skills directory", spec.skillsDir);
  const skillsRoot = spec.skillsDir.replace(/\/+$/, "");
  if (spec.dir === skillsRoot || spec.dir.startsWith(`${skillsRoot}/`))
    throw new InputInvalid(
      `the skills directory ${spec.skillsDir} contains the profile directory: mounting it would expose profiles`,
      {
        hint: "keep the shared skills outside the profiles root (FLEET_SKILLS_DIR)",
      },
    );
  const image = spec.image ?? fallbackImage;
  if (!image)
    throw new InputInvalid(`profile ${spec.profile}: no container image given`, { hint: "run `hermes-admin images build`" });
  return image;
}

/** The bind mounts of a profile container: its directory read-write, the skills read-only (twice, see the top). */
export function profileBindMounts(spec: WorkloadSpec): Array<{ Source: string; Target: string; ReadOnly: boolean }> {
  const mounts = [
    { Source: spec.dir, Target: PROFILE_MOUNT, ReadOnly: false },
    { Source: spec.skillsDir, Target: SKILLS_MOUNT, ReadOnly: true },
  ];
  if (!isReserved(spec.skillsDir)) mounts.push({ Source: spec.skillsDir, Target: spec.skillsDir, ReadOnly: true });
  return mounts;
}

export function buildContainerSpec(spec: WorkloadSpec, opts: ContainerSpecOptions = {}): ContainerCreateBody {
  const image = checkContainerWorkload(spec, "container", opts.image);
  const network = opts.network ?? DEFAULT_NETWORK;
  const limits = opts.limits ?? limitsForPlan(undefined);
  const logs = opts.logs ?? { maxSize: "10m", maxFile: 3 };
  const name = workloadName(spec.profile, spec.generation);
  const portKey = `${CONTAINER_PORT}/tcp`;

  const mounts: NonNullable<NonNullable<ContainerCreateOptions["HostConfig"]>["Mounts"]> = profileBindMounts(spec).map((m) => ({
    Type: "bind",
    ...m,
  }));
  if (opts.dataSocketDir) mounts.push({ Type: "bind", Source: opts.dataSocketDir, Target: DATA_SOCKET_MOUNT, ReadOnly: true });

  const body: ContainerCreateBody = {
    name,
    Hostname: name,
    Image: image,
    User: `${spec.uid}:${spec.gid}`,
    WorkingDir: PROFILE_MOUNT,
    Env: containerEnv({ standby: spec.standby }),
    Labels: profileLabels(spec),
    ExposedPorts: { [portKey]: {} },
    StopSignal: "SIGTERM",
    StopTimeout: opts.stopTimeoutSeconds ?? 15,
    ...(opts.healthcheck === false
      ? {}
      : {
          Healthcheck: {
            Test: healthProbe(CONTAINER_PORT),
            Interval: 30_000_000_000,
            Timeout: 5_000_000_000,
            Retries: 3,
            StartPeriod: 20_000_000_000,
          },
        }),
    HostConfig: {
      Mounts: mounts,
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw,noexec,nosuid,nodev,size=64m,mode=1777" },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      Init: opts.init ?? true,
      PidsLimit: limits.pids,
      Memory: limits.memoryBytes,
      MemorySwap: limits.memoryBytes,
      NanoCpus: limits.nanoCpus,
      LogConfig: { Type: "json-file", Config: { "max-size": logs.maxSize, "max-file": String(logs.maxFile) } },
      PortBindings: { [portKey]: [{ HostIp: "127.0.0.1", HostPort: String(spec.port) }] },
      NetworkMode: network,
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
    },
  };
  (body.Labels as Record<string, string>)[SPEC_HASH_LABEL] = specHash(body);
  return body;
}
