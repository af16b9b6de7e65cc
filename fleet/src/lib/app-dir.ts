/**
 * Where the application lives (the repository, or /app in an image): the directory holding `fleet/` and `core/`.
 * Found by walking up from this module, so it is the same whether this code runs from `fleet/dist/lib/` or from the
 * CLI's bundle in `fleet/dist/` (scripts/bundle-cli.mjs).
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export function findAppDir(from: string): string {
  let d = from;
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(d, "fleet", "package.json")) && existsSync(join(d, "core"))) return d;
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  return resolve(from, "..", ".."); // fleet/dist/lib -> the layout this module was built for
}

export const APP_DIR = findAppDir(dirname(fileURLToPath(import.meta.url)));
