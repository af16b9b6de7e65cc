/**
 * The profile directory on disk (the contract in DESIGN.md), laid out so the tenant can write only where its runtime
 * must write:
 *   <root>/<name>/          root:<gid> 0750   the tenant can read and enter it, not add, rename or remove entries
 *     .env, config.yaml, SOUL.md, AGENTS.md, profile.yaml, keys/   root:<gid> 0640 (keys/ 0750): rendered by the fleet
 *     skills -> shared skills (a link the fleet made; the tenant cannot replace it)
 *     data/ (state.db), memories/, logs/, home/, sessions/, cron/   <uid>:<gid> 0700: the tenant's
 * Created in a staging directory and renamed into place, so a failure leaves nothing behind. Every file the daemon
 * reads or writes here goes through safe-fs.ts (no link followed, owner checked).
 */

import { spawnSync } from "node:child_process";
import { chmod, lchown, lstat, mkdir, readdir, readFile, rename, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Conflict, parseEnv } from "@twilight/core";
import { lchownTree, lstatOrUndefined, ownFileNoFollow, readNoFollow, writeNoFollow } from "../lib/safe-fs.js";
import { type RenderInput, renderConfigYaml, renderDotEnv } from "../template/render.js";

/** Files the fleet renders: root-owned, read-only to the tenant (through its group). */
export const FLEET_FILES = [".env", "config.yaml", "SOUL.md", "AGENTS.md", "profile.yaml"] as const;
export const PROFILE_FILES = ["SOUL.md", "AGENTS.md"] as const;
/** The tenant's directories (its runtime writes only here); `data/` holds state.db. */
export const TENANT_DIRS = ["data", "memories", "logs", "home", "sessions", "cron"] as const;
export const ROOT_MODE = 0o750;
export const FLEET_FILE_MODE = 0o640;

export interface MaterializeOptions {
  root: string;
  templateDir: string;
  skillsDir: string;
  uid: number;
  gid: number;
  secrets: Record<string, string>;
  render: RenderInput;
  /** Fill the staging directory before it is handed to the tenant (restore: the archived files); root writes, then chowns. */
  populate?: (staging: string, owner: { uid: number; gid: number }) => Promise<void>;
}

export function profileDir(root: string, name: string): string {
  return join(root, name);
}

async function exists(p: string): Promise<boolean> {
  return (await lstatOrUndefined(p)) !== undefined;
}

/** Write a fresh profile directory. Throws Conflict when the directory already exists; cleans up its staging on failure. */
export async function materializeProfile(o: MaterializeOptions): Promise<string> {
  const name = o.render.profile;
  const final = profileDir(o.root, name);
  if (await exists(final))
    throw new Conflict(`profile directory ${final} already exists`, {
      hint: "an earlier spawn left it behind or another profile owns it; inspect it, then `hermes-admin rm --purge` or move it away",
    });
  await mkdir(o.root, { recursive: true, mode: 0o755 });
  const staging = join(o.root, `.${name}.creating-${process.pid}-${Date.now()}`);
  const fleetOwned = { uid: 0, gid: o.gid, mode: FLEET_FILE_MODE };
  try {
    await mkdir(staging, { mode: 0o700 });
    for (const d of TENANT_DIRS) await mkdir(join(staging, d), { mode: 0o700 });
    await writeFile(join(staging, "memories", "MEMORY.md"), "", { mode: 0o600 });
    await writeFile(join(staging, "memories", "USER.md"), "", { mode: 0o600 });
    await mkdir(join(staging, "home", "tmp"), { mode: 0o700 });
    if (o.populate) await o.populate(staging, { uid: o.uid, gid: o.gid });
    for (const d of TENANT_DIRS) await lchownTree(join(staging, d), o.uid, o.gid);
    // the fleet's files at once: each is fsynced, and concurrent fsyncs share the file system's journal commits (a
    // pooled spawn spent 20-60 ms here writing them one after the other)
    const envTemplate = await readFile(join(o.templateDir, ".env.example"), "utf8");
    await Promise.all([
      ...PROFILE_FILES.map(async (f) => writeNoFollow(staging, f, await readFile(join(o.templateDir, f), "utf8"), fleetOwned)),
      writeNoFollow(staging, "profile.yaml", `name: ${name}\ndescription: stock research (pro)\n`, fleetOwned),
      writeNoFollow(
        staging,
        ".env",
        renderDotEnv(envTemplate, { profile: name, port: o.render.port, secrets: o.secrets }),
        fleetOwned,
      ),
      writeConfig(staging, o.templateDir, o.render, { uid: 0, gid: o.gid }),
    ]);
    await symlink(o.skillsDir, join(staging, "skills"));
    await lchown(staging, 0, o.gid);
    await chmod(staging, ROOT_MODE);
    await rename(staging, final);
    return final;
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
}

/** (Re-)render config.yaml for a tier; used at spawn and by migration. Root-owned, group-readable; no link followed. */
export async function writeConfig(dir: string, templateDir: string, render: RenderInput, owner: { uid: number; gid: number }) {
  const tpl = await readFile(join(templateDir, "config.yaml.template"), "utf8");
  await writeNoFollow(dir, "config.yaml", renderConfigYaml(tpl, render), { ...owner, mode: FLEET_FILE_MODE });
}

/** The profile's `.env`, read as root without following a link and only if root (or, before layout 2, the tenant) owns it. */
export async function readProfileEnv(dir: string, uid: number): Promise<Record<string, string>> {
  return parseEnv(await readNoFollow(join(dir, ".env"), { owners: [0, uid], maxBytes: 64 * 1024 }));
}

/**
 * Bring a profile directory to the layout above (idempotent; run before a cold start, never while the profile runs):
 * takes the root from the tenant first (so nothing can be swapped meanwhile), then checks every fleet file is a regular
 * file (a planted link or device is refused, naming it), re-owns them root:<gid> 0640, replaces links or files planted
 * where a tenant directory belongs, and moves state.db (and its WAL) into data/.
 */
export async function ensureLayout(dir: string, uid: number, gid: number): Promise<{ changed: string[] }> {
  const changed: string[] = [];
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new Conflict(`${dir} is not a directory`);
  if (st.uid !== 0 || (st.mode & 0o777) !== ROOT_MODE) {
    await lchown(dir, 0, gid);
    await chmod(dir, ROOT_MODE);
    changed.push("root");
  }
  for (const f of FLEET_FILES) {
    const fst = await lstatOrUndefined(join(dir, f));
    if (!fst) continue;
    if (fst.uid === 0 && fst.gid === gid && (fst.mode & 0o777) === FLEET_FILE_MODE && fst.isFile()) continue;
    await ownFileNoFollow(join(dir, f), { uid: 0, gid, mode: FLEET_FILE_MODE }); // refuses a link or a non-file
    changed.push(f);
  }
  for (const d of TENANT_DIRS) {
    const p = join(dir, d);
    const dst = await lstatOrUndefined(p);
    if (dst?.isDirectory()) continue;
    if (dst) await unlink(p); // a link or file the tenant planted where its directory belongs
    await mkdir(p, { mode: 0o700 });
    await lchown(p, uid, gid);
    changed.push(d);
  }
  // the profile's TMPDIR (runtime/sandbox.ts), made by the tenant's own uid: home/ is the tenant's, so root never
  // creates anything through a path the tenant controls
  if (!(await lstatOrUndefined(join(dir, "home", "tmp"))))
    spawnSync("/bin/mkdir", ["-p", "-m", "700", join(dir, "home", "tmp")], { uid, gid, stdio: "ignore", timeout: 5000 });
  for (const suffix of ["", "-wal", "-shm"]) {
    const from = join(dir, `state.db${suffix}`);
    const fst = await lstatOrUndefined(from);
    if (!fst?.isFile() || (await exists(join(dir, "data", `state.db${suffix}`)))) continue;
    await rename(from, join(dir, "data", `state.db${suffix}`));
    changed.push(`state.db${suffix}`);
  }
  return { changed };
}

export async function removeProfileDir(root: string, name: string): Promise<void> {
  await rm(profileDir(root, name), { recursive: true, force: true });
}

export const ARCHIVE_DIR = ".archive";
/** `<profile>@<UTC stamp>`: the name of a removed profile's kept directory. */
export const ARCHIVE_NAME = /^([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)@(\d{8}T\d{6}Z)$/;

/**
 * Keep a removed profile's directory as an archive nobody but root can read: every entry re-owned to root (links
 * changed, never followed), the directory 0700, moved under `<root>/.archive/<name>@<stamp>`. Its uid then owns
 * nothing under ops/ and can go to the next profile. Returns the archive's name.
 */
export async function archiveProfileDir(root: string, name: string, now: Date): Promise<string | undefined> {
  const dir = profileDir(root, name);
  if (!(await lstatOrUndefined(dir))?.isDirectory()) return undefined;
  await lchownTree(dir, 0, 0);
  await chmod(dir, 0o700);
  const archives = join(root, ARCHIVE_DIR);
  await mkdir(archives, { recursive: true, mode: 0o700 });
  await chmod(archives, 0o700);
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const archive = `${name}@${stamp}`;
  await rename(dir, join(archives, archive));
  return archive;
}

export async function listArchives(root: string): Promise<Array<{ name: string; profile: string; removed_at: string }>> {
  const entries = await readdir(join(root, ARCHIVE_DIR)).catch(() => [] as string[]);
  return entries.flatMap((e) => {
    const m = ARCHIVE_NAME.exec(e);
    if (!m) return [];
    const s = m[2] as string;
    const removed = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`;
    return [{ name: e, profile: m[1] as string, removed_at: removed }];
  });
}

/** Delete an archive for good. */
export async function purgeArchive(root: string, archive: string): Promise<boolean> {
  if (!ARCHIVE_NAME.test(archive)) throw new Conflict(`${archive} is not an archive name (<profile>@<stamp>)`);
  const p = join(root, ARCHIVE_DIR, archive);
  if (!(await lstatOrUndefined(p))) return false;
  await rm(p, { recursive: true, force: true });
  return true;
}

/** uids and gids that own an entry directly under the profiles root (to keep them out of allocation). */
export async function ownersUnder(root: string): Promise<number[]> {
  const out = new Set<number>();
  for (const e of await readdir(root).catch(() => [] as string[])) {
    const st = await lstatOrUndefined(join(root, e)).catch(() => undefined);
    if (st) {
      out.add(st.uid);
      out.add(st.gid);
    }
  }
  out.delete(0);
  return [...out];
}
