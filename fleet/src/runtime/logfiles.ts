/**
 * Per-profile console logs for the process tier. The child writes to an O_APPEND file descriptor it holds itself, so it
 * keeps logging when the fleet daemon dies; the daemon rotates by size with copy-and-truncate (the writer keeps appending
 * at the new end), keeping `keep` numbered files.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";

export const CONSOLE_LOG = "console.log";

export function logPath(logDir: string): string {
  return join(logDir, CONSOLE_LOG);
}

/** Open the console log for appending (0600, root-owned: the profile cannot rewrite its own history). */
export function openConsoleLog(logDir: string): number {
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  return openSync(logPath(logDir), "a", 0o600);
}

/** Rotate when over `maxBytes`: console.log -> .1 -> .2 ... keeping `keep` files. Returns true when it rotated. */
export function rotateIfNeeded(logDir: string, maxBytes: number, keep: number): boolean {
  const p = logPath(logDir);
  let size = 0;
  try {
    size = statSync(p).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  const oldest = `${p}.${keep}`;
  if (existsSync(oldest)) rmSync(oldest);
  for (let i = keep - 1; i >= 1; i--) if (existsSync(`${p}.${i}`)) renameSync(`${p}.${i}`, `${p}.${i + 1}`);
  copyFileSync(p, `${p}.1`);
  truncateSync(p, 0);
  return true;
}

/**
 * A pooled runtime's console log becomes the profile's: the file is renamed (the process keeps writing to the same
 * open file, now at the profile's path). A console log the profile's name already had is rotated to `.1` first.
 */
export function adoptConsoleLog(fromDir: string, toDir: string, keep: number): void {
  mkdirSync(toDir, { recursive: true, mode: 0o700 });
  rotateIfNeeded(toDir, -1, keep);
  renameSync(logPath(fromDir), logPath(toDir));
  rmSync(fromDir, { recursive: true, force: true });
}

export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}
