/**
 * The export fence: a root-owned `MOVED` file in the profile directory (which the tenant cannot create or remove) says
 * the profile was exported to another host and must not start here, so two copies never serve and diverge.
 */

import { rm } from "node:fs/promises";
import { join } from "node:path";
import { lstatOrUndefined, readNoFollow, writeNoFollow } from "../lib/safe-fs.js";

export const FENCE_FILE = "MOVED";

export interface Fence {
  exported_at: string;
  archive: string;
  actor: string;
}

export async function writeFence(dir: string, gid: number, f: Fence): Promise<void> {
  await writeNoFollow(dir, FENCE_FILE, `${JSON.stringify(f)}\n`, { uid: 0, gid, mode: 0o640 });
}

export async function readFence(dir: string): Promise<Fence | undefined> {
  if (!(await lstatOrUndefined(join(dir, FENCE_FILE)))) return undefined;
  return JSON.parse(await readNoFollow(join(dir, FENCE_FILE), { owners: [0], maxBytes: 4096 })) as Fence;
}

export async function removeFence(dir: string): Promise<boolean> {
  if (!(await lstatOrUndefined(join(dir, FENCE_FILE)))) return false;
  await rm(join(dir, FENCE_FILE), { force: true });
  return true;
}
