/**
 * `node agent/dist/validate-skill.js <skill-dir>`: check a skill's SKILL.md frontmatter. Prints one JSON line
 * `{ok, name, version, category}` or `{ok: false, errors}`; exit 0 when valid, 1 when not, 2 on usage.
 */
import { readSkillManifest } from "./skill-manifest.js";

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: validate-skill.js <skill-dir>\n");
  process.exit(2);
}
const r = readSkillManifest(dir);
process.stdout.write(`${JSON.stringify(r.ok ? { ok: true, name: r.name, version: r.version, category: r.category } : r)}\n`);
process.exit(r.ok ? 0 : 1);
