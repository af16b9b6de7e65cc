/** Image names, labels and the project version: what the runtime needs to know of images, without the builder. */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { DriverError } from "@twilight/core/errors";
import { APP_DIR } from "../lib/app-dir.js";

/** The repository root (or /app in an image). */
export const REPO_ROOT = APP_DIR;

export const IMAGE_LABELS = {
  contentHash: "io.twilight.content-hash",
  version: "io.twilight.version",
  image: "io.twilight.image",
} as const;

export type AppImageKind = "profile" | "mcp" | "fleet";
export type ImageKind = "base" | AppImageKind;

export interface AppTarget {
  repo: string;
  workspaces: string[];
  extra?: string[];
  main: string;
  /** Default arguments (Dockerfile CMD) after the entrypoint. */
  cmd?: string[];
  /** Node flags before the entry file (ENTRYPOINT ["node", ...flags, main]). */
  nodeFlags?: readonly string[];
  expose: number;
}

/**
 * The profile runtime's entry, for every tier (process driver, systemd unit, profile image): the bundle that
 * `npm run build` makes (scripts/bundle-agent.mjs; measured start 318 -> ~225 ms), else the compiled module.
 */
export const AGENT_BUNDLE = "agent/dist/bundle/main.mjs";
export const AGENT_MODULE = "agent/dist/main.js";
/**
 * Node flags of every profile runtime. A 1 MiB semi-space keeps the young generation from growing to 3 x 16 MiB under
 * load and staying there (with the runtime's idle GC: RSS after 600 chat requests ~144 -> ~94 MiB; latency within
 * noise: agent/dist/bench/chat-latency.js --node-options prints both).
 */
export const AGENT_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=1"];

export const APP_TARGETS: Readonly<Record<AppImageKind, AppTarget>> = {
  profile: {
    repo: "twilight/hermes-profile",
    workspaces: ["core", "agent", "skill/stock-research"],
    main: AGENT_BUNDLE,
    nodeFlags: AGENT_NODE_FLAGS,
    expose: 8642,
  },
  mcp: { repo: "twilight/mcp-tushare", workspaces: ["core", "mcp/tushare"], main: "mcp/tushare/dist/main.js", expose: 9100 },
  fleet: {
    repo: "twilight/fleet",
    workspaces: ["core", "fleet", "agent", "mcp/tushare", "skill/stock-research"],
    extra: ["profile/template-stock-research-pro"],
    main: "fleet/dist/main.js",
    cmd: ["serve"],
    expose: 8700,
  },
};
export const BASE_REPO = "twilight/node-base";

export async function projectVersion(root = REPO_ROOT): Promise<string> {
  const pkg = JSON.parse(await readFile(resolve(root, "package.json"), "utf8")) as { version?: string };
  if (!pkg.version) throw new DriverError("images", "the root package.json has no version");
  return pkg.version;
}

/**
 * Image references for a project version (and the host's Node version for the base). `namespace` replaces the leading
 * "twilight/" (tests build into their own namespace so they never replace the images an operator runs).
 */
export function imageRefs(
  version: string,
  nodeVersion = process.version.replace(/^v/, ""),
  namespace = "twilight",
): Record<ImageKind, string> {
  const ns = (repo: string) => repo.replace(/^twilight\//, `${namespace}/`);
  return {
    base: `${ns(BASE_REPO)}:${nodeVersion}`,
    profile: `${ns(APP_TARGETS.profile.repo)}:${version}`,
    mcp: `${ns(APP_TARGETS.mcp.repo)}:${version}`,
    fleet: `${ns(APP_TARGETS.fleet.repo)}:${version}`,
  };
}
