/**
 * "Has this file changed since I last looked?" without a stat per request: an inotify watch on its directory (which
 * sees atomic renames over the file) raises a flag, and the hot path checks the flag. Where no watch can be made
 * (no inotify, watch limit reached) or the watch fails later, every check says "maybe" and the caller stats as before.
 * Measured: tokens.json and the key set were stat'ed on every tool call (~65 us of ~2 ms of CPU per call).
 */
import { type FSWatcher, watch } from "node:fs";
import { basename, dirname } from "node:path";

export class ChangeFlag {
  private watcher: FSWatcher | undefined;
  private dirty = true;

  constructor(file: string) {
    const name = basename(file);
    try {
      this.watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
        if (!changed || changed === name || changed.startsWith(`${name}.`) || changed.startsWith(`.${name}`)) this.dirty = true;
      });
      this.watcher.on("error", () => this.close());
    } catch {
      this.watcher = undefined;
    }
  }

  /** True when the file may have changed since the last call that returned true (always true without a watch). */
  maybeChanged(): boolean {
    if (!this.watcher) return true;
    const d = this.dirty;
    this.dirty = false;
    return d;
  }

  /** Say "maybe" at the next check (a reader that must look again soon, e.g. within the timestamp granularity). */
  touch(): void {
    this.dirty = true;
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    this.dirty = true;
  }
}
