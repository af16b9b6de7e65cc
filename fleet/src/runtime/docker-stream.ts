/**
 * Docker's multiplexed attach/logs/exec stream (containers without a TTY): frames of an 8-byte header
 * `[stream, 0, 0, 0, size (uint32 BE)]` followed by `size` bytes of payload; stream 1 = stdout, 2 = stderr (0 = stdin).
 * Frames arrive split across and joined within chunks; the demuxer buffers until a frame is whole. Pure, unit-tested.
 */
import type { Readable } from "node:stream";
import type { LogLine } from "./types.js";
export type StreamName = "stdout" | "stderr";

export interface Frame {
  stream: StreamName;
  payload: Buffer;
}

const HEADER = 8;

export class FrameDemuxer {
  private buf: Buffer = Buffer.alloc(0);

  /** Feed bytes; returns the frames completed by them (in order). */
  push(chunk: Buffer): Frame[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Frame[] = [];
    while (this.buf.length >= HEADER) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < HEADER + size) break;
      const type = this.buf[0];
      const payload = this.buf.subarray(HEADER, HEADER + size);
      this.buf = this.buf.subarray(HEADER + size);
      if (type === 1 || type === 2) out.push({ stream: type === 1 ? "stdout" : "stderr", payload: Buffer.from(payload) });
    }
    return out;
  }

  /** Bytes of an incomplete frame still waiting (non-zero at end of stream means it was cut). */
  get pending(): number {
    return this.buf.length;
  }
}

/** Splits one stream's bytes into lines (\n or \r\n); a partial last line is held until more arrives or `flush`. */
export class LineSplitter {
  private rest = "";
  private readonly decoder = new TextDecoder("utf-8");

  push(chunk: Buffer): string[] {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const parts = text.split("\n");
    this.rest = parts.pop() ?? "";
    return parts.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  }

  flush(): string[] {
    const last = this.rest + this.decoder.decode();
    this.rest = "";
    return last.length ? [last] : [];
  }
}

/** Demultiplexes and splits into lines per stream, keeping the two streams' partial lines apart. */
export class LogLineDecoder {
  private readonly demux = new FrameDemuxer();
  private readonly lines = { stdout: new LineSplitter(), stderr: new LineSplitter() };

  push(chunk: Buffer): { stream: StreamName; line: string }[] {
    const out: { stream: StreamName; line: string }[] = [];
    for (const f of this.demux.push(chunk)) {
      for (const line of this.lines[f.stream].push(f.payload)) out.push({ stream: f.stream, line });
    }
    return out;
  }

  flush(): { stream: StreamName; line: string }[] {
    return (["stdout", "stderr"] as const).flatMap((s) => this.lines[s].flush().map((line) => ({ stream: s, line })));
  }
}

/** Encode one frame (tests, and anything that must speak the format). */
export function encodeFrame(stream: StreamName, payload: Buffer | string): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(HEADER);
  head[0] = stream === "stdout" ? 1 : 2;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

/**
 * The lines of an engine log answer (a whole Buffer, or a followed stream ended by `signal`), demultiplexed. A stream
 * error after the caller aborted is the abort, not an error; any other is thrown as what `onError` makes of it.
 */
export async function* engineLogLines(
  source: Readable | Buffer,
  signal: AbortSignal | undefined,
  onError: (e: unknown) => Error,
): AsyncIterable<LogLine> {
  const decoder = new LogLineDecoder();
  if (Buffer.isBuffer(source)) {
    yield* decoder.push(source);
    yield* decoder.flush();
    return;
  }
  const onAbort = () => source.destroy();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for await (const chunk of source) yield* decoder.push(chunk as Buffer);
    yield* decoder.flush();
  } catch (e) {
    if (!signal?.aborted) throw onError(e);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    source.destroy();
  }
}
