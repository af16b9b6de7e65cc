/**
 * Prometheus `file_sd` targets for the profiles (pure), plus an atomic writer. Every target is the fleet's front door
 * (`/p/<name>/metrics`), so a profile's scrape address never changes when it restarts, sleeps or moves tier: its
 * series stay continuous under the same `profile` (and `instance`) label. See README.md for the trade-off.
 */
import { renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { isProfileName } from "@twilight/core";

/** The registry row fields the builder reads (a structural subset of ProfileRow). */
export interface ScrapeProfile {
  name: string;
  tier: string;
  desired_state: string;
}

/** One `file_sd` target group, exactly as Prometheus reads it. */
export interface FileSdGroup {
  targets: string[];
  labels: Record<string, string>;
}

export interface FileSdOptions {
  /** host:port of the fleet daemon as Prometheus reaches it (the front door), e.g. `127.0.0.1:8700`. */
  fleetAddress: string;
  /** Profiles whose desired state is stopped are left out unless this is true (default false). */
  includeStopped?: boolean;
}

/** Path the front door serves a profile's metrics on. */
export function profileMetricsPath(name: string): string {
  return `/p/${name}/metrics`;
}

/**
 * One group per profile that should run (desired state `running`, whatever its current status: a crashed or
 * crash-looping profile stays a target so `up == 0` shows it). Sorted by name so the file only changes when the
 * fleet does. Names that are not valid profile names are skipped (they never reach a label).
 */
export function buildFileSd(profiles: readonly ScrapeProfile[], o: FileSdOptions): FileSdGroup[] {
  if (!/^[A-Za-z0-9.[\]:-]+:\d{1,5}$/.test(o.fleetAddress))
    throw new Error(`fleetAddress must be host:port, got ${o.fleetAddress}`);
  return profiles
    .filter((p) => isProfileName(p.name) && (o.includeStopped || p.desired_state === "running"))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((p) => ({
      targets: [o.fleetAddress],
      labels: {
        __metrics_path__: profileMetricsPath(p.name),
        instance: p.name,
        profile: p.name,
        tier: p.tier,
      },
    }));
}

/** The file's text: stable JSON (keys in a fixed order, trailing newline). */
export function renderFileSd(groups: readonly FileSdGroup[]): string {
  return `${JSON.stringify(groups, null, 2)}\n`;
}

/**
 * Write the targets file atomically (temp file + rename in the same directory), so Prometheus' file watcher never
 * reads a half-written file. Returns false (and writes nothing) when the content is unchanged.
 */
export function writeFileSd(path: string, groups: readonly FileSdGroup[], current?: string): boolean {
  const text = renderFileSd(groups);
  if (current === text) return false;
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, path);
  return true;
}
