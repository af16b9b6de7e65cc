/**
 * The profile directory on disk (the contract in DESIGN.md): created in a staging directory and renamed into place, so a
 * failure leaves nothing behind; owned by the profile's uid/gid, mode 0700; `.env` 0600.
 */
import { chmod, chown, cp, lstat, mkdir, readdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Conflict, parseEnv } from "@twilight/core";
import { type RenderInput, renderConfigYaml, renderDotEnv } from "../template/render.js";

export const PROFILE_FILES = ["SOUL.md", "AGENTS.md"] as const;
export const PROFILE_DIRS = ["memories", "logs", "home", "sessions", "cron"] as const;

export interface MaterializeOptions {
  root: string;
  templateDir: string;
  skillsDir: string;
  uid: number;
  gid: number;
  secrets: Record<string, string>;
  render: RenderInput;
}

export function profileDir(root: string, name: string): string {
  return join(root, name);
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
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
  try {
    await mkdir(staging, { mode: 0o700 });
    for (const f of PROFILE_FILES) await cp(join(o.templateDir, f), join(staging, f));
    for (const d of PROFILE_DIRS) await mkdir(join(staging, d), { mode: 0o700 });
    await writeFile(join(staging, "memories", "MEMORY.md"), "", { mode: 0o600 });
    await writeFile(join(staging, "memories", "USER.md"), "", { mode: 0o600 });
    await writeFile(join(staging, "profile.yaml"), `name: ${name}\ndescription: stock research (pro)\n`, { mode: 0o600 });
    const envTemplate = await readFile(join(o.templateDir, ".env.example"), "utf8");
    await writeFile(
      join(staging, ".env"),
      renderDotEnv(envTemplate, { profile: name, port: o.render.port, secrets: o.secrets }),
      {
        mode: 0o600,
      },
    );
    await writeConfig(staging, o.templateDir, o.render);
    await symlink(o.skillsDir, join(staging, "skills"));
    await chownTree(staging, o.uid, o.gid);
    await chmod(staging, 0o700);
    await rename(staging, final);
    return final;
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
}

/** (Re-)render config.yaml for a tier; used at spawn and by migration. Written via a temp file and rename. */
export async function writeConfig(dir: string, templateDir: string, render: RenderInput, owner?: { uid: number; gid: number }) {
  const tpl = await readFile(join(templateDir, "config.yaml.template"), "utf8");
  const tmp = join(dir, `.config.yaml.${process.pid}.tmp`);
  await writeFile(tmp, renderConfigYaml(tpl, render), { mode: 0o600 });
  if (owner) await chown(tmp, owner.uid, owner.gid);
  await rename(tmp, join(dir, "config.yaml"));
}

async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await chown(dir, uid, gid);
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isSymbolicLink()) continue; // never follow: the skills link points at the shared, root-owned directory
    if (ent.isDirectory()) await chownTree(p, uid, gid);
    else await chown(p, uid, gid);
  }
}

export async function readProfileEnv(dir: string): Promise<Record<string, string>> {
  return parseEnv(await readFile(join(dir, ".env"), "utf8"));
}

export async function removeProfileDir(root: string, name: string): Promise<void> {
  await rm(profileDir(root, name), { recursive: true, force: true });
}
