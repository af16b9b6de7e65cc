/** The few files the observability setup keeps on disk: the scrape token and a written Prometheus bundle. */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { BundleFile } from "./prometheus-config.js";
import { newScrapeToken } from "./scrape-auth.js";

/**
 * Read the scrape token at `path`, creating it (0640, directory 0750) when absent. Idempotent: an existing token is
 * kept, so a running Prometheus keeps working across daemon restarts. Give the file to the `prometheus` group.
 */
export function ensureScrapeToken(path: string): string {
  if (existsSync(path)) {
    const token = readFileSync(path, "utf8").trim();
    if (token.length >= 32) return token;
    throw new Error(`scrape token file ${path} holds fewer than 32 characters; remove it to have a new one made`);
  }
  mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  const token = newScrapeToken();
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${token}\n`, { mode: 0o640 });
  chmodSync(tmp, 0o640); // umask may have narrowed it
  renameSync(tmp, path);
  return token;
}

/** Write a bundle (relative path -> file) under `dir`, each file with its mode (`hermes-admin prometheus config --out`). */
export function writeBundle(dir: string, files: Map<string, BundleFile>): string[] {
  const written: string[] = [];
  for (const [rel, f] of files) {
    if (rel.startsWith("/") || rel.split("/").includes("..")) throw new Error(`bundle path ${rel} leaves ${dir}`);
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.content, { mode: f.mode });
    chmodSync(path, f.mode);
    written.push(path);
  }
  return written;
}
