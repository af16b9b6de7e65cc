/**
 * The swarm tier's spec: a PURE function from a WorkloadSpec to the Docker Engine API create-service body
 * (POST /services/create), and the names of what goes with it. No I/O here; swarm.ts only sends what this returns.
 *
 * A profile is one service with one replica, hardened like the container tier (container-spec.ts): non-root uid,
 * read-only root filesystem, every capability dropped, no-new-privileges (honoured by engines >= API 1.44; older ones
 * ignore the field, so `ensure_docker` also starts dockerd with --no-new-privileges and the tests read NoNewPrivs from
 * the task's /proc status), limits per plan. Differences that are the point of the tier:
 * - secrets: the profile's .env is a Docker secret (raft-encrypted at rest, delivered on tmpfs at /run/secrets), named
 *   by a hash of its content so a rotation is a new secret; the agent reads it through HERMES_ENV_FILE. The spec's Env
 *   holds no secret;
 * - placement: the profile directory lives on one node; the constraint `node.labels.io.twilight.node == <node>` keeps
 *   the task there (a task is never rescheduled to a node without its data);
 * - health: the fleet's own rounds (no Docker health check, which would gate the task's start and restart it behind
 *   the supervisor's back);
 * - one copy at a time: RestartPolicy none (the fleet's supervisor restarts with its backoff, as for containers) and
 *   update order stop-first (an update never runs two tasks on one state.db);
 * - network: an attachable overlay (`twilight-swarm`) on which the data service is reachable by name; the API port is
 *   published in host mode on the node (no routing mesh: it needs IPVS, and would open every profile on every node), and
 *   the endpoint is DNS round-robin (no virtual IP to program).
 */
import { createHash } from "node:crypto";
import { LABELS, workloadName } from "@twilight/core";
import {
  CONTAINER_PORT,
  checkContainerWorkload,
  containerEnv,
  PROFILE_MOUNT,
  profileBindMounts,
  profileLabels,
} from "./container-spec.js";
import type { ContainerLimits } from "./limits.js";
import { limitsForPlan } from "./limits.js";
import type { WorkloadSpec } from "./types.js";

export const SWARM_NETWORK = "twilight-swarm";
/** Node label that names a node to the fleet; placement constraints and `hermes-admin nodes` use it. */
export const NODE_LABEL = "io.twilight.node";
/**
 * Node label naming the directory that holds profile directories on that node (absolute path); unset: the fleet's own
 * profiles root. The fleet reaches a node's root at the same path (see README "Profiles on several nodes").
 */
export const NODE_ROOT_LABEL = "io.twilight.profiles-root";
/** Where the task finds its secrets (tmpfs). */
export const ENV_SECRET_FILE = "hermes.env";
export const ENV_SECRET_PATH = `/run/secrets/${ENV_SECRET_FILE}`;
/** Label with the image's name (the spec runs it by id). */
export const IMAGE_LABEL = "io.twilight.image";
/** Label on services and secrets: hash of the service body (without itself), to tell a changed spec. */
export const SERVICE_HASH_LABEL = "io.twilight.spec-hash";

export interface SwarmSpecOptions {
  image?: string;
  /** The image's id on the engine (`sha256:...`): what the task runs (no registry lookup); the name stays in a label. */
  imageId?: string;
  network?: string;
  limits?: ContainerLimits;
  /** The node (value of its io.twilight.node label) that holds the profile directory. */
  node: string;
  /** The Docker secret that carries the .env (from envSecretName + the engine's id). */
  secret: { id: string; name: string };
  replicas?: 0 | 1;
  /** Seconds the engine waits after SIGTERM before SIGKILL on stop / scale to 0. */
  stopGraceSeconds?: number;
  logs?: { maxSize: string; maxFile: number };
}

/** The Engine API's ServiceSpec, as much of it as we send (dockerode's own typing of it is loose). */
export interface ServiceBody {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: Record<string, unknown> & { Env: string[]; Labels: Record<string, string> };
    Resources: { Limits: { NanoCPUs: number; MemoryBytes: number; Pids: number } };
    RestartPolicy: { Condition: "none" };
    Placement: { Constraints: string[] };
    Networks: Array<{ Target: string; Aliases: string[] }>;
    LogDriver: { Name: string; Options: Record<string, string> };
    ForceUpdate?: number;
  };
  Mode: { Replicated: { Replicas: number } };
  UpdateConfig: { Parallelism: number; Order: "stop-first"; FailureAction: "pause" };
  EndpointSpec: {
    Mode: "dnsrr";
    Ports: Array<{ Protocol: "tcp"; TargetPort: number; PublishedPort: number; PublishMode: "host" }>;
  };
}

/** The name of the secret holding `envText` for this profile generation: content-addressed, so rotation = new name. */
export function envSecretName(spec: Pick<WorkloadSpec, "profile" | "generation">, envText: string): string {
  const h = createHash("sha256").update(envText).digest("hex").slice(0, 12);
  return `${workloadName(spec.profile, spec.generation)}-env-${h}`;
}

/** Labels of a profile's secret (cleanup by label, never by name pattern alone). */
export function secretLabels(spec: Pick<WorkloadSpec, "profile" | "tier" | "generation">): Record<string, string> {
  return { ...profileLabels(spec), [LABELS.role]: "profile-secret" };
}

/** The placement constraint that keeps a profile on the node holding its directory. */
export function nodeConstraint(node: string): string {
  return `node.labels.${NODE_LABEL}==${node}`;
}

/** Short hash of a service body without its own hash label. Pure. */
export function serviceHash(body: ServiceBody): string {
  const labels = { ...body.Labels };
  delete labels[SERVICE_HASH_LABEL];
  const { Mode: _mode, ...rest } = body; // scaling is not a spec change
  return createHash("sha256")
    .update(JSON.stringify({ ...rest, Labels: labels }))
    .digest("hex")
    .slice(0, 16);
}

export function buildServiceSpec(spec: WorkloadSpec, opts: SwarmSpecOptions): ServiceBody {
  const image = checkContainerWorkload(spec, "swarm", opts.image);
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/i.test(opts.node)) throw new Error(`bad node name ${JSON.stringify(opts.node)}`);
  const limits = opts.limits ?? limitsForPlan(spec.plan ?? undefined);
  const logs = opts.logs ?? { maxSize: "10m", maxFile: 3 };
  const name = workloadName(spec.profile, spec.generation);
  const labels = { ...profileLabels(spec), [IMAGE_LABEL]: image };
  const body: ServiceBody = {
    Name: name,
    Labels: { ...labels },
    TaskTemplate: {
      ContainerSpec: {
        Image: opts.imageId ?? image,
        Hostname: name,
        User: `${spec.uid}:${spec.gid}`,
        Dir: PROFILE_MOUNT,
        Env: [...containerEnv({ standby: spec.standby }), `HERMES_ENV_FILE=${ENV_SECRET_PATH}`],
        Labels: { ...labels },
        Mounts: [
          ...profileBindMounts(spec).map((m) => ({ Type: "bind", ...m })),
          { Type: "tmpfs", Target: "/tmp", TmpfsOptions: { SizeBytes: 64 * 1024 * 1024, Mode: 0o1777 } },
        ],
        ReadOnly: true,
        CapabilityDrop: ["ALL"],
        Privileges: { NoNewPrivileges: true },
        Init: true,
        StopSignal: "SIGTERM",
        StopGracePeriod: (opts.stopGraceSeconds ?? 15) * 1e9,
        // No Docker health check: Swarm holds a task in `starting` until its first check passes (30 s here) and kills
        // an unhealthy one itself; the fleet's health rounds decide, as for every tier.
        Healthcheck: { Test: ["NONE"] },
        Secrets: [
          {
            File: { Name: ENV_SECRET_FILE, UID: String(spec.uid), GID: String(spec.gid), Mode: 0o400 },
            SecretID: opts.secret.id,
            SecretName: opts.secret.name,
          },
        ],
      },
      Resources: { Limits: { NanoCPUs: limits.nanoCpus, MemoryBytes: limits.memoryBytes, Pids: limits.pids } },
      RestartPolicy: { Condition: "none" },
      Placement: { Constraints: [nodeConstraint(opts.node)] },
      Networks: [{ Target: opts.network ?? SWARM_NETWORK, Aliases: [name] }],
      LogDriver: { Name: "json-file", Options: { "max-size": logs.maxSize, "max-file": String(logs.maxFile) } },
    },
    Mode: { Replicated: { Replicas: opts.replicas ?? 1 } },
    UpdateConfig: { Parallelism: 1, Order: "stop-first", FailureAction: "pause" },
    EndpointSpec: {
      Mode: "dnsrr",
      Ports: [{ Protocol: "tcp", TargetPort: CONTAINER_PORT, PublishedPort: spec.port, PublishMode: "host" }],
    },
  };
  body.Labels[SERVICE_HASH_LABEL] = serviceHash(body);
  return body;
}
