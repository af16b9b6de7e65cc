/**
 * Fleet-wide runtime upgrade with a canary and automatic rollback. A runtime version is the container image's tag
 * (`<repo>:<version>`, the repo of FLEET_IMAGE); prefab profiles run the host's runtime and are reported as skipped.
 * Profile by profile (canaries first): switch the image (stop, re-create, start until healthy), then gate it: /health
 * plus one real chat query with the profile's own key. The first failure stops the rollout and every profile switched
 * so far goes back to the image it had; with `pauseOnFailure` the failed profiles go back, the rollout pauses, and
 * `resume` retries them and goes on (or `abort` rolls back what it switched). Every step is an event. The switch is a restart behind the front door: new
 * requests are held, in-flight ones drained, and all released once the new version is healthy (callers through
 * `/p/<profile>/` see latency, not errors; direct-port callers see the restart). Not yet the standby handover of
 * migrate.ts, which would shorten the hold to the handover.
 */
import { Conflict, InputInvalid, Precondition } from "@twilight/core";
import { imageRefs, projectVersion } from "../images/refs.js";
import type { ProfileRow } from "../registry/types.js";
import { askProfile } from "../workload/ask.js";
import { audit } from "../workload/audit.js";
import { type FleetContext, noProgress, type Progress } from "../workload/context.js";
import { specOf } from "../workload/workloads.js";
import type { TrafficGate } from "./migrate.js";
import type { ProfileService } from "./profiles.js";

export const VERSION = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export interface UpgradeRequest {
  to: string;
  canary?: number;
  /** Profiles switched at once after the canaries (each is held at the front door while it switches). */
  maxUnavailable?: number;
  /** A failed gate pauses the rollout (the failed profiles go back, the upgraded ones stay) instead of rolling back. */
  pauseOnFailure?: boolean;
  actor: string;
  gateTimeoutMs?: number;
}

export interface UpgradeResult {
  to: string;
  image: string;
  outcome: "completed" | "rolled-back" | "paused" | "noop";
  canary: string[];
  upgraded: string[];
  rolled_back: string[];
  skipped: Array<{ profile: string; reason: string }>;
  failed?: { profile: string; step: string; error: string };
  ms: number;
}

/** The rollout in progress (in memory: a daemon restart ends it; profiles keep the image their row names). */
interface Rollout {
  to: string;
  image: string;
  started_at: string;
  current: string | null;
  upgraded: string[];
  remaining: string[];
  abort: boolean;
}

/** A rollout and what is left of it: run to its end, or paused at a failed gate until resumed or aborted. */
interface Run {
  req: UpgradeRequest;
  state: Rollout;
  out: UpgradeResult;
  /** Profiles switched so far, with the image each had (what a rollback restores). */
  done: Array<{ name: string; from: string | null }>;
  batches: ProfileRow[][];
  t0: number;
}

export class UpgradeService {
  private running: Rollout | undefined;
  private paused: Run | undefined;
  private last: UpgradeResult | undefined;

  constructor(
    private readonly ctx: FleetContext,
    private readonly profiles: ProfileService,
    /** The front door: requests to the profile being switched are held (latency, not errors). */
    private readonly traffic?: TrafficGate,
  ) {}

  /** The image a profile runs when its row names none (FLEET_IMAGE, else the built profile image of this version). */
  async defaultImage(): Promise<string> {
    return this.ctx.cfg.image ?? imageRefs(await projectVersion(this.ctx.cfg.appDir)).profile;
  }

  async imageFor(version: string): Promise<string> {
    if (!VERSION.test(version)) throw new InputInvalid(`version ${JSON.stringify(version)} is not an image tag`);
    const base = await this.defaultImage();
    const at = base.lastIndexOf(":");
    const repo = at > base.lastIndexOf("/") ? base.slice(0, at) : base;
    return `${repo}:${version}`;
  }

  status() {
    const r = this.running ?? this.paused?.state;
    return {
      running: Boolean(this.running),
      ...(this.paused ? { paused: true, ...(this.paused.out.failed ? { failed: this.paused.out.failed } : {}) } : {}),
      ...(r
        ? {
            to: r.to,
            image: r.image,
            started_at: r.started_at,
            current: r.current,
            upgraded: [...r.upgraded],
            remaining: [...r.remaining],
            aborting: r.abort,
          }
        : {}),
      ...(this.last ? { last: this.last } : {}),
    };
  }

  /**
   * Stop the rollout in progress after the profile being switched, and roll back what it switched; a paused rollout
   * is rolled back now.
   */
  async abort(actor: string, progress: Progress = noProgress): Promise<{ aborting: boolean; message: string }> {
    const run = this.paused;
    if (run && !this.running) {
      this.paused = undefined;
      await this.event("fleet", actor, "upgrade-abort", "info", { to: run.state.to, paused: true });
      await this.rollbackAll(run, { ...run.req, actor }, progress);
      await this.finish(run);
      return {
        aborting: true,
        message: `the paused rollout to ${run.state.to} is over: ${run.out.rolled_back.length} profile(s) rolled back`,
      };
    }
    if (!this.running) return { aborting: false, message: "no rollout in progress" };
    this.running.abort = true;
    void this.event("fleet", actor, "upgrade-abort", "info", { to: this.running.to });
    return {
      aborting: true,
      message: `the rollout to ${this.running.to} stops after ${this.running.current ?? "this step"} and rolls back`,
    };
  }

  async upgrade(req: UpgradeRequest, progress: Progress = noProgress): Promise<UpgradeResult> {
    this.assertIdle();
    // taken before the first await, so two upgrades never interleave
    const state: Rollout = {
      to: req.to,
      image: "",
      started_at: new Date(this.ctx.now()).toISOString(),
      current: null,
      upgraded: [],
      remaining: [],
      abort: false,
    };
    this.running = state;
    try {
      return await this.drive(await this.plan(req, state), progress);
    } finally {
      this.running = undefined;
    }
  }

  /** Go on with a paused rollout: the profiles whose gate failed first (after the operator fixed the cause). */
  async resume(actor: string, progress: Progress = noProgress): Promise<UpgradeResult> {
    if (this.running)
      throw new Conflict(`a rollout to ${this.running.to} is in progress`, { hint: "hermes-admin rollout status" });
    const run = this.paused;
    if (!run)
      throw new Precondition("no rollout is paused", {
        hint: "hermes-admin rollout status; start one with hermes-admin upgrade --to VERSION --pause-on-failure",
      });
    this.paused = undefined;
    this.running = run.state;
    run.req = { ...run.req, actor };
    run.out.outcome = "noop";
    delete run.out.failed;
    await this.event("fleet", actor, "upgrade-resume", "info", { to: run.state.to, remaining: run.state.remaining });
    try {
      return await this.drive(run, progress);
    } finally {
      this.running = undefined;
    }
  }

  private assertIdle(): void {
    if (this.running)
      throw new Conflict(`a rollout to ${this.running.to} is in progress`, {
        hint: "hermes-admin rollout status; hermes-admin rollout abort",
      });
    if (this.paused)
      throw new Conflict(`a rollout to ${this.paused.state.to} is paused at a failed gate`, {
        hint: "hermes-admin rollout status; then hermes-admin rollout resume (after fixing it) or hermes-admin rollout abort",
      });
  }

  private async plan(req: UpgradeRequest, state: Rollout): Promise<Run> {
    const t0 = performance.now();
    const image = await this.imageFor(req.to);
    const fallback = await this.defaultImage();
    const canaryN = Math.max(1, req.canary ?? 1);
    const rows = (await this.profiles.list()).sort((a, b) => a.name.localeCompare(b.name));
    const skipped: UpgradeResult["skipped"] = [];
    const todo: ProfileRow[] = [];
    for (const r of rows) {
      if (r.tier === "prefab") skipped.push({ profile: r.name, reason: "prefab runs the host's runtime" });
      else if (r.tier === "swarm")
        skipped.push({ profile: r.name, reason: "swarm: move it with `migrate --to swarm` after the image is on every node" });
      else if (r.desired_state !== "running") skipped.push({ profile: r.name, reason: `desired state ${r.desired_state}` });
      else if ((r.image ?? fallback) === image) skipped.push({ profile: r.name, reason: "already on it" });
      else todo.push(r);
    }
    const canary = todo.slice(0, canaryN).map((r) => r.name);
    const out: UpgradeResult = { to: req.to, image, outcome: "noop", canary, upgraded: [], rolled_back: [], skipped, ms: 0 };
    await this.event("fleet", req.actor, "upgrade-start", "info", { image, canary, profiles: todo.map((r) => r.name) });
    state.image = image;
    state.remaining = todo.map((r) => r.name);
    // canaries one at a time, then batches of --max-unavailable; the first failure (or an abort) ends the rollout
    const k = Math.max(1, req.maxUnavailable ?? 1);
    const batches: ProfileRow[][] = todo.slice(0, canary.length).map((r) => [r]);
    for (let i = canary.length; i < todo.length; i += k) batches.push(todo.slice(i, i + k));
    return { req, state, out, done: [], batches, t0 };
  }

  private async drive(run: Run, progress: Progress): Promise<UpgradeResult> {
    const { req, state, out } = run;
    const image = state.image;
    while (run.batches.length) {
      const batch = run.batches[0] as ProfileRow[];
      const phase = out.canary.includes(batch[0]?.name ?? "") ? "canary" : "rollout";
      state.current = batch.map((r) => r.name).join(",");
      state.remaining = state.remaining.filter((n) => !batch.some((r) => r.name === n));
      const errs = await Promise.all(
        batch.map(async (r) => {
          progress(phase, { profile: r.name, image });
          if (state.abort)
            return { profile: r.name, step: "aborted", error: "aborted by the operator (hermes-admin rollout abort)" };
          run.done.push({ name: r.name, from: r.image });
          const err = await this.switchAndGate(r.name, image, req, progress);
          if (err) return { profile: r.name, ...err };
          out.upgraded.push(r.name);
          state.upgraded.push(r.name);
          await this.event(r.name, req.actor, "upgrade-step", "ok", { image, phase });
          return undefined;
        }),
      );
      const failures = errs.filter((e) => e !== undefined);
      const failed = failures[0];
      if (!failed) {
        run.batches.shift();
        continue;
      }
      out.failed = failed;
      await this.event(failed.profile, req.actor, "upgrade-step", "error", { image, phase, ...failed });
      if (req.pauseOnFailure && !state.abort) {
        // the profiles whose gate failed go back to what they had; the upgraded ones stay; resume retries the failed
        const names = new Set(failures.map((f) => f.profile));
        progress("pause", { failed: [...names] });
        for (const d of run.done.filter((x) => names.has(x.name))) {
          const back = await this.switchAndGate(d.name, d.from, req, progress);
          await this.event(d.name, req.actor, "upgrade-rollback", back ? "error" : "ok", { to: d.from, ...(back ?? {}) });
          if (!back) out.rolled_back.push(d.name);
        }
        run.done = run.done.filter((x) => !names.has(x.name));
        run.batches[0] = batch.filter((r) => names.has(r.name));
        state.remaining = [...names, ...state.remaining.filter((n) => !names.has(n))];
        state.current = null;
        out.outcome = "paused";
        this.paused = run;
        out.ms = Math.round(performance.now() - run.t0);
        await this.event("fleet", req.actor, "upgrade-paused", "error", { ...out });
        this.last = { ...out };
        return { ...out };
      }
      await this.rollbackAll(run, req, progress);
      break;
    }
    return this.finish(run);
  }

  /** Put every profile the rollout switched back on the image it had (newest first). */
  private async rollbackAll(run: Run, req: UpgradeRequest, progress: Progress): Promise<void> {
    progress("rollback", { profiles: run.done.map((d) => d.name) });
    for (const d of [...run.done].reverse()) {
      const back = await this.switchAndGate(d.name, d.from, req, progress);
      await this.event(d.name, req.actor, "upgrade-rollback", back ? "error" : "ok", { to: d.from, ...(back ?? {}) });
      if (!back) run.out.rolled_back.push(d.name);
    }
    run.done = [];
    run.out.outcome = "rolled-back";
  }

  private async finish(run: Run): Promise<UpgradeResult> {
    const out = run.out;
    if (out.outcome !== "rolled-back" && !out.failed && out.upgraded.length) out.outcome = "completed";
    if (out.outcome === "rolled-back") out.upgraded = [];
    out.ms = Math.round(performance.now() - run.t0);
    await this.event("fleet", run.req.actor, "upgrade", out.outcome === "rolled-back" ? "error" : "ok", { ...out });
    this.last = out;
    return out;
  }

  /** Switch one profile to `image` (null: the fleet default) and gate it; undefined when it passed. */
  private async switchAndGate(name: string, image: string | null, req: UpgradeRequest, progress: Progress) {
    let step = "drain";
    let held = false;
    try {
      this.traffic?.hold(name);
      held = true;
      await this.traffic?.drain(name, 10_000);
      step = "stop";
      await this.profiles.stop(name, req.actor);
      step = "switch";
      const row = await this.profiles.get(name);
      await this.ctx.drivers.for(row.tier).remove(specOf(this.ctx, row));
      await this.ctx.registry.update(name, { image });
      step = "start";
      const started = await this.profiles.start(name, req.actor);
      this.traffic?.release(name);
      held = false;
      step = "gate";
      await this.gate(started, req.gateTimeoutMs ?? 30_000);
      progress("gated", { profile: name, image: image ?? "default" });
      return undefined;
    } catch (e) {
      return { step, error: (e as Error).message };
    } finally {
      if (held) this.traffic?.release(name); // a failed start: held requests go on (the rollback restarts it)
    }
  }

  /** Health, then one real query through the runtime with the profile's own key. */
  private async gate(row: ProfileRow, timeoutMs: number): Promise<void> {
    const base = `http://127.0.0.1:${row.port}`;
    const h = await fetch(`${base}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!h.ok) throw new Error(`/health answered ${h.status}`);
    const a = await askProfile(this.ctx, row, { question: "upgrade gate: what can you do?" }, timeoutMs);
    if (!a.answer) throw new Error("the gate query got an empty answer");
  }

  private event(
    profile: string,
    actor: string,
    action: string,
    result: "ok" | "error" | "info",
    detail: Record<string, unknown>,
  ) {
    return audit(this.ctx, { profile, actor, action, result, detail });
  }
}
