import { NameInvalid } from "./errors.js";

/**
 * The running tiers: the plan's two (section 0.2) and `swarm`, the container tier spread over Docker Swarm nodes
 * (issue 12). Adding one is a registry migration (the tier CHECK) and a driver in fleet/src/runtime/index.ts.
 */
export const TIERS = ["prefab", "container", "swarm"] as const;
export type Tier = (typeof TIERS)[number];

export function isTier(s: string): s is Tier {
  return (TIERS as readonly string[]).includes(s);
}

/**
 * Whether a tier runs the profile in a container (the image's runtime at /profile, API on the container port, data
 * service and model gateway reached over a Docker network) rather than as a host process.
 */
export function inContainer(tier: Tier): boolean {
  return tier !== "prefab";
}

/**
 * Longest profile name. A DNS label may have 63 characters; we keep room for the workload name
 * `hermes-<profile>-g<generation>` and the Swarm service name to stay a valid label too.
 */
export const PROFILE_NAME_MAX = 40;
const NAME_RE = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;

/** Validate a profile name; returns it unchanged or throws NameInvalid saying why. Nothing else accepts a name. */
export function assertProfileName(name: unknown): string {
  if (typeof name !== "string") throw new NameInvalid(String(name), "not a string");
  if (name.length === 0) throw new NameInvalid(name, "it is empty");
  if (name.length > PROFILE_NAME_MAX)
    throw new NameInvalid(name, `it has ${name.length} characters; at most ${PROFILE_NAME_MAX} are allowed`);
  if (!NAME_RE.test(name)) {
    const bad = [...name].find((c) => !/[a-z0-9-]/.test(c));
    if (bad !== undefined) throw new NameInvalid(name, `character ${JSON.stringify(bad)} is not allowed`);
    throw new NameInvalid(name, "it must start with a letter and not end with '-'");
  }
  if (name.includes("--")) throw new NameInvalid(name, "'--' is reserved");
  return name;
}

export function isProfileName(name: unknown): boolean {
  try {
    assertProfileName(name);
    return true;
  } catch {
    return false;
  }
}

/** Deterministic workload name (container, Swarm service): a compatibility contract, see AGENTS.md. */
export function workloadName(profile: string, generation: number): string {
  return `hermes-${profile}-g${generation}`;
}

/** Labels every workload we create carries. Cleanup acts on these labels only. */
export const LABELS = {
  managedBy: "io.twilight.managed-by",
  profile: "io.twilight.profile",
  tier: "io.twilight.tier",
  generation: "io.twilight.generation",
  role: "io.twilight.role",
} as const;
export const MANAGED_BY = "twilight-fleet";
