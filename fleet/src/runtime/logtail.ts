/** Tail and follow a console log file across size-based rotation (copy-and-truncate). */
import { open, stat } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { logPath } from "./logfiles.js";
import type { LogOptions } from "./types.js";

const CHUNK = 64 * 1024;

async function lastLines(path: string, n: number): Promise<{ lines: string[]; offset: number }> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, "r");
  } catch {
    return { lines: [], offset: 0 };
  }
  try {
    const size = (await fh.stat()).size;
    let pos = size;
    let text = "";
    while (pos > 0 && text.split("\n").length <= n + 1) {
      const len = Math.min(CHUNK, pos);
      pos -= len;
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, pos);
      text = buf.toString("utf8") + text;
    }
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    return { lines: n === 0 ? [] : lines.slice(-n), offset: size };
  } finally {
    await fh.close();
  }
}

export async function* followLog(logDir: string, opts: LogOptions): AsyncIterable<string> {
  const path = logPath(logDir);
  const first = await lastLines(path, opts.tail ?? 100);
  for (const l of first.lines) yield l;
  if (!opts.follow) return;
  let offset = first.offset;
  let partial = "";
  while (!opts.signal?.aborted) {
    let size = 0;
    try {
      size = (await stat(path)).size;
    } catch {
      size = 0;
    }
    if (size < offset) offset = 0; // rotated (truncated): start from the top of the new file
    if (size > offset) {
      const fh = await open(path, "r");
      try {
        const buf = Buffer.alloc(size - offset);
        await fh.read(buf, 0, buf.length, offset);
        offset = size;
        const parts = (partial + buf.toString("utf8")).split("\n");
        partial = parts.pop() ?? "";
        for (const l of parts) yield l;
      } finally {
        await fh.close();
      }
    }
    await sleep(200, undefined, { signal: opts.signal }).catch(() => undefined);
  }
}
