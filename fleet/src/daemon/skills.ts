/**
 * The shared skills directory: root-owned, world-readable, never writable by a profile. Populated from the repository's
 * bundled skills on first start (Hermes layout: skills/<category>/<name>/SKILL.md); `scripts/admin/install-skill.sh` adds more.
 */
import { chmod, cp, mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FleetConfig } from "../config.js";

export const BUNDLED_SKILLS = [{ category: "research", name: "stock-research", from: ["skill", "stock-research"] }];

export async function installSkills(cfg: FleetConfig): Promise<void> {
  await mkdir(cfg.skillsDir, { recursive: true, mode: 0o755 });
  await chmod(cfg.skillsDir, 0o755);
  for (const s of BUNDLED_SKILLS) {
    const dest = join(cfg.skillsDir, s.category, s.name);
    const src = join(cfg.appDir, ...s.from);
    const have = await stat(join(dest, "SKILL.md")).catch(() => undefined);
    const want = await stat(join(src, "SKILL.md")).catch(() => undefined);
    if (!want || (have && have.mtimeMs >= want.mtimeMs)) continue;
    await mkdir(join(cfg.skillsDir, s.category), { recursive: true, mode: 0o755 });
    await cp(join(src, "SKILL.md"), join(dest, "SKILL.md"), { force: true });
    for (const sub of ["references", "templates"]) {
      await cp(join(src, sub), join(dest, sub), { recursive: true, force: true }).catch(() => undefined);
    }
  }
}
