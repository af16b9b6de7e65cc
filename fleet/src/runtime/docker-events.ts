/**
 * Watches Docker's event stream for `die` events of containers carrying our managed-by label, and reconnects with
 * `since` after an engine restart so no exit is missed (duplicates are dropped by event time + id).
 */
import { constants } from "node:os";
import type { Readable } from "node:stream";
import { LABELS, type Logger, MANAGED_BY } from "@twilight/core";
import type Docker from "dockerode";
import { sleep } from "../docker/client.js";
import { LineSplitter } from "./docker-stream.js";

export interface DieEvent {
  id: string;
  name: string;
  profile: string | undefined;
  generation: number;
  code: number | null;
  /** Derived from an exit code 129..159 (128 + signal number), as Docker reports a container killed by a signal. */
  signal: string | null;
  timeNano: number;
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  timeNano?: number;
  time?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([k, v]) => [v as number, k]));

/** Turn one raw engine event into a DieEvent, or undefined when it is not a die of one of ours. Pure. */
export function parseDieEvent(raw: RawEvent): DieEvent | undefined {
  if ((raw.Type ?? "container") !== "container" || (raw.Action ?? raw.status) !== "die") return undefined;
  const attrs = raw.Actor?.Attributes ?? {};
  if (attrs[LABELS.managedBy] !== MANAGED_BY) return undefined;
  const codeText = attrs.exitCode;
  const code = codeText === undefined || codeText === "" ? null : Number(codeText);
  const signal = code !== null && code > 128 && code < 160 ? (SIGNAL_NAMES.get(code - 128) ?? null) : null;
  return {
    id: raw.Actor?.ID ?? raw.id ?? "",
    name: attrs.name ?? "",
    profile: attrs[LABELS.profile],
    generation: Number(attrs[LABELS.generation] ?? Number.NaN),
    code,
    signal,
    timeNano: raw.timeNano ?? (raw.time ?? 0) * 1e9,
  };
}

export class DieWatcher {
  private stream: Readable | undefined;
  private readonly stop = new AbortController();
  private sinceSec: number;
  private readonly seen = new Set<string>();
  private running = false;

  constructor(
    private readonly docker: Docker,
    private readonly onDie: (e: DieEvent) => void,
    private readonly log: Logger,
  ) {
    // Replay from a little before we were asked to watch: a container that died in between is not missed.
    this.sinceSec = Math.floor(Date.now() / 1000) - 2;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  close(): void {
    this.stop.abort();
    this.stream?.destroy();
  }

  private async loop(): Promise<void> {
    let backoff = 500;
    while (!this.stop.signal.aborted) {
      try {
        await this.follow();
        backoff = 500;
      } catch (e) {
        if (this.stop.signal.aborted) break;
        this.log.warn({ err: (e as Error).message }, "docker event stream failed; reconnecting");
      }
      await sleep(backoff, this.stop.signal);
      backoff = Math.min(backoff * 2, 10_000);
    }
  }

  private async follow(): Promise<void> {
    const filters = { type: ["container" as const], event: ["die"], label: [`${LABELS.managedBy}=${MANAGED_BY}`] };
    const stream = (await this.docker.getEvents({ since: this.sinceSec, filters })) as unknown as Readable;
    this.stream = stream;
    if (this.stop.signal.aborted) {
      stream.destroy();
      return;
    }
    const lines = new LineSplitter();
    try {
      for await (const chunk of stream) {
        for (const line of lines.push(chunk as Buffer)) this.handle(line);
      }
    } catch (e) {
      if (!this.stop.signal.aborted) throw e;
    }
  }

  private handle(line: string): void {
    if (!line.trim()) return;
    let raw: RawEvent;
    try {
      raw = JSON.parse(line) as RawEvent;
    } catch {
      return;
    }
    const ev = parseDieEvent(raw);
    if (!ev) return;
    const key = `${ev.id}:${ev.timeNano}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    if (this.seen.size > 4096) this.seen.clear();
    this.sinceSec = Math.max(this.sinceSec, Math.floor(ev.timeNano / 1e9) - 1);
    this.onDie(ev);
  }
}

/**
 * The exits a Docker-backed driver reports: the workloads it watches (by a key from the container's name) and its
 * listeners, fed by one DieWatcher started on the first listener. Shared by the container and swarm drivers.
 */
export class ExitFanout {
  private readonly listeners: Array<
    (e: { profile: string; generation: number; code: number | null; signal: string | null }) => void
  > = [];
  private readonly watched = new Map<string, { profile: string; generation: number }>();
  private watcher: DieWatcher | undefined;

  constructor(
    private readonly docker: Docker,
    private readonly log: Logger,
    /** The watch key of a dead container's name (the container name, or a task's service name). */
    private readonly keyOf: (containerName: string) => string,
    private readonly what: string,
  ) {}

  watch(key: string, w: { profile: string; generation: number }): void {
    this.watched.set(key, { profile: w.profile, generation: w.generation });
    if (this.listeners.length) this.ensureWatcher();
  }

  unwatch(key: string): void {
    this.watched.delete(key);
  }

  onExit(listener: ExitFanout["listeners"][number]): void {
    this.listeners.push(listener);
    this.ensureWatcher();
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private ensureWatcher(): void {
    if (this.watcher) return;
    this.watcher = new DieWatcher(this.docker, (e) => this.onDie(e), this.log);
    this.watcher.start();
  }

  private onDie(e: DieEvent): void {
    const w = this.watched.get(this.keyOf(e.name));
    if (!w || w.profile !== e.profile || w.generation !== e.generation) return;
    this.log.info({ profile: w.profile, generation: w.generation, code: e.code, signal: e.signal }, `${this.what} exited`);
    for (const l of this.listeners) {
      try {
        l({ profile: w.profile, generation: w.generation, code: e.code, signal: e.signal });
      } catch (err) {
        this.log.error({ err: (err as Error).message }, "exit listener failed");
      }
    }
  }
}
