/**
 * The data service's cite keys, pinned into each profile at `keys/cite-keys.json` (root:<gid> 0640 in a root-owned
 * directory): the profile trusts only these keys and never fetches keys from the data service's endpoint, which a
 * tenant could squat. Re-pinned at every cold start, after `mcp up` and after `mcp rotate-key`; the runtime re-reads
 * the file when it changes, so a rotation needs no restart.
 */
import { chmod, lchown, mkdir, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Precondition } from "@twilight/core";
import { lstatOrUndefined, readNoFollow, writeNoFollow } from "../lib/safe-fs.js";

export const PINNED_KEYS_DIR = "keys";
export const PINNED_KEYS_FILE = "cite-keys.json";
/** What config.yaml names (relative to HERMES_HOME, so the same path serves both tiers). */
export const PINNED_KEYS_REL = `${PINNED_KEYS_DIR}/${PINNED_KEYS_FILE}`;

/** The data service's published key set, read as root without following a link (`{keys: []}` before its first start). */
export async function readPublishedKeys(dataDir: string, serviceUid: number): Promise<string> {
  let text: string;
  try {
    text = await readNoFollow(join(dataDir, PINNED_KEYS_FILE), { owners: [serviceUid, 0], maxBytes: 256 * 1024 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return `${JSON.stringify({ keys: [] })}\n`;
    throw e;
  }
  const parsed = JSON.parse(text) as { keys?: unknown };
  if (!Array.isArray(parsed.keys))
    throw new Precondition(`${join(dataDir, PINNED_KEYS_FILE)} has no keys array`, { hint: "hermes-admin mcp status" });
  return text;
}

/**
 * Write the key set into one profile. Only into a layout-2 directory (root-owned root): an older directory is pinned at
 * its next cold start, after ensureLayout took it back from the tenant. Returns false when skipped.
 */
export async function pinKeys(dir: string, gid: number, published: string): Promise<boolean> {
  const root = await lstatOrUndefined(dir);
  if (!root?.isDirectory() || root.uid !== 0) return false;
  const keys = join(dir, PINNED_KEYS_DIR);
  const st = await lstatOrUndefined(keys);
  if (st && !st.isDirectory()) await unlink(keys);
  if (!st?.isDirectory()) await mkdir(keys, { mode: 0o750 });
  await lchown(keys, 0, gid);
  await chmod(keys, 0o750);
  await writeNoFollow(keys, PINNED_KEYS_FILE, published, { uid: 0, gid, mode: 0o640 });
  return true;
}
