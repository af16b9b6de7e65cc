/**
 * The system prompt of a profile: SOUL.md + AGENTS.md + one line per installed skill (name: description from its
 * SKILL.md frontmatter). Read from HERMES_HOME only; nothing of another profile or session goes in.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";

const MAX_FILE_CHARS = 20_000;

export interface SkillSummary {
  name: string;
  description: string;
  path: string;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").slice(0, MAX_FILE_CHARS).trim();
  } catch {
    return undefined;
  }
}

export function frontmatter(text: string): Record<string, unknown> | undefined {
  const m = /^---\r?\n([\s\S]*?)\r?\n---\s*(\r?\n|$)/.exec(text);
  if (!m) return undefined;
  try {
    const v = parseYaml(m[1] as string) as unknown;
    return v && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** SKILL.md files under `skills/` (Hermes layout `skills/<category>/<name>/SKILL.md`, or `skills/<name>/SKILL.md`). */
export function findSkills(skillsDir: string, depth = 3): SkillSummary[] {
  const out: SkillSummary[] = [];
  const walk = (dir: string, left: number) => {
    let entries: string[];
    try {
      entries = readdirSync(dir).sort();
    } catch {
      return;
    }
    if (entries.includes("SKILL.md")) {
      const p = join(dir, "SKILL.md");
      const fm = frontmatter(readText(p) ?? "");
      if (fm && typeof fm.name === "string") out.push({ name: fm.name, description: String(fm.description ?? ""), path: p });
      return;
    }
    if (left <= 0) return;
    for (const e of entries) {
      if (e.startsWith(".") || e === "node_modules") continue;
      const p = join(dir, e);
      try {
        if (statSync(p).isDirectory()) walk(p, left - 1);
      } catch {
        // unreadable entry: skip
      }
    }
  };
  walk(skillsDir, depth);
  return out;
}

export function buildSystemPrompt(home: string): string {
  const parts: string[] = [];
  const soul = readText(join(home, "SOUL.md"));
  if (soul) parts.push(soul);
  const agents = readText(join(home, "AGENTS.md"));
  if (agents) parts.push(agents);
  const skillsDir = join(home, "skills");
  const skills = existsSync(skillsDir) ? findSkills(skillsDir) : [];
  if (skills.length) parts.push(["# Skills available", ...skills.map((s) => `- ${s.name}: ${s.description}`)].join("\n"));
  parts.push(
    "Tool results arrive as JSON with a `ref` number when their cite verified: cite figures as [ref]. " +
      "A result with `error: cite_refused` was withheld: do not state its figures.",
  );
  return parts.join("\n\n");
}
