/**
 * Validation of a skill's SKILL.md frontmatter (Hermes layout): name, description, version, platforms,
 * required_environment_variables, metadata.hermes.{tags, category}. Used by `scripts/admin/install-skill.sh` through
 * `validate-skill.js`, and by the runtime when it lists skills. Pure, except readSkillManifest which reads one file.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { frontmatter } from "./context.js";

const Slug = z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "lower-case letters, digits and '-', at most 64");
const EnvVar = z.union([
  z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name"),
  z
    .object({
      name: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name"),
      prompt: z.string().optional(),
      help: z.string().optional(),
      required_for: z.string().optional(),
    })
    .passthrough(),
]);

export const SkillManifest = z
  .object({
    name: Slug,
    description: z.string().trim().min(1, "must not be empty").max(1024),
    version: z.string().regex(/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/, "a semantic version such as 1.2.3"),
    platforms: z.array(z.enum(["linux", "macos", "windows"])).optional(),
    required_environment_variables: z.array(EnvVar).optional(),
    metadata: z
      .object({
        hermes: z
          .object({ tags: z.array(z.string().min(1).max(40)).max(32).optional(), category: Slug.optional() })
          .passthrough()
          .optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type SkillManifest = z.infer<typeof SkillManifest>;

export type ManifestResult =
  | { ok: true; name: string; version: string; category: string; manifest: SkillManifest }
  | { ok: false; errors: string[] };

export function validateSkillText(text: string): ManifestResult {
  const fm = frontmatter(text);
  if (!fm) return { ok: false, errors: ["SKILL.md must start with a YAML frontmatter block between '---' lines"] };
  const r = SkillManifest.safeParse(fm);
  if (!r.success) return { ok: false, errors: r.error.issues.map((i) => `${i.path.join(".") || "(frontmatter)"}: ${i.message}`) };
  return {
    ok: true,
    name: r.data.name,
    version: r.data.version,
    category: r.data.metadata?.hermes?.category ?? "general",
    manifest: r.data,
  };
}

export function readSkillManifest(dir: string): ManifestResult {
  let text: string;
  try {
    text = readFileSync(join(dir, "SKILL.md"), "utf8");
  } catch (e) {
    return {
      ok: false,
      errors: [`cannot read ${join(dir, "SKILL.md")}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`],
    };
  }
  return validateSkillText(text);
}
