/** The environment of a prefab profile's processes: its .env plus a few fixed variables, nothing from the daemon. Pure. */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { MANAGED_BY } from "@twilight/core";
import { AGENT_BUNDLE, AGENT_MODULE, AGENT_NODE_FLAGS } from "../images/refs.js";

export interface ProcessEnvInput {
  dir: string;
  appDir: string;
  nodePath: string;
  generation: number;
  dotenv: Record<string, string>;
  extra?: Record<string, string>;
}

/** Marker variables that let a restarted daemon recognise its processes in /proc (the process tier's "labels"). */
export const ENV_MANAGED = "TWILIGHT_MANAGED";
export const ENV_GENERATION = "TWILIGHT_GENERATION";
/** Marks a runtime started by the warm pool (no profile in its environment; see process.ts scan). */
export const ENV_POOLED = "TWILIGHT_POOLED";
/** The pool serves spawns only, and a spawn is a profile's first generation. */
export const POOLED_GENERATION = 1;

export function processEnv(i: ProcessEnvInput): Record<string, string> {
  return {
    ...i.dotenv,
    HERMES_HOME: i.dir,
    HOME: join(i.dir, "home"),
    PATH: [join(i.appDir, "skill", "stock-research", "bin"), dirname(i.nodePath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    LANG: "C.UTF-8",
    TWILIGHT_APP_DIR: i.appDir,
    [ENV_MANAGED]: MANAGED_BY,
    [ENV_GENERATION]: String(i.generation),
    ...(i.extra ?? {}),
  };
}

export function agentEntry(appDir: string): string {
  const bundle = join(appDir, AGENT_BUNDLE);
  return existsSync(bundle) ? bundle : join(appDir, AGENT_MODULE);
}

/** The command that starts a profile runtime: node, its flags, the entry. */
export function agentArgv(nodePath: string, appDir: string): string[] {
  return [nodePath, ...AGENT_NODE_FLAGS, agentEntry(appDir)];
}
