/** Which shared libraries a host binary needs: `ldd` output, parsed. Spawned with an argument array, never a shell. */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { DriverError } from "@twilight/core";

const run = promisify(execFile);

/**
 * Paths from `ldd` output: `libx.so.1 => /lib/.../libx.so.1 (0x...)` and the interpreter line `/lib64/ld-linux-x86-64.so.2 (0x...)`.
 * The vDSO (no file) is skipped; a `not found` library is an error (the image would not run). Pure.
 */
export function parseLdd(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("linux-vdso") || line.startsWith("linux-gate")) continue;
    if (/=>\s*not found/.test(line)) throw new DriverError("images", `a shared library is missing on this host: ${line}`);
    const arrow = /=>\s*(\/\S+)\s*\(0x[0-9a-f]+\)/.exec(line);
    if (arrow?.[1]) {
      out.push(arrow[1]);
      continue;
    }
    const direct = /^(\/\S+)\s*\(0x[0-9a-f]+\)/.exec(line);
    if (direct?.[1]) out.push(direct[1]);
  }
  return [...new Set(out)];
}

/** Shared libraries of each binary (union, in first-seen order). A static binary has none. */
export async function sharedLibraries(binaries: string[]): Promise<string[]> {
  const all: string[] = [];
  for (const bin of binaries) {
    try {
      const { stdout } = await run("ldd", [bin], { encoding: "utf8" });
      all.push(...parseLdd(stdout));
    } catch (e) {
      const out = String((e as { stdout?: string }).stdout ?? "") + String((e as { stderr?: string }).stderr ?? "");
      if (/not a dynamic executable|statically linked/.test(out)) continue;
      throw new DriverError("images", `ldd ${bin} failed: ${out.trim() || (e as Error).message}`, { cause: e });
    }
  }
  return [...new Set(all)];
}
