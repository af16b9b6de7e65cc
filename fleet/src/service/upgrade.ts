/**
 * Fleet-wide runtime upgrade with a canary and automatic rollback. A runtime version is the container image's tag
 * (`<repo>:<version>`, the repo of FLEET_IMAGE); prefab profiles run the host's runtime and are reported as skipped.
 * Profile by profile (canaries first): switch the image (stop, re-create, start until healthy), then gate it: /health
 * plus one real chat query with the profile's own key. The first failure stops the rollout and every profile switched
 * so far goes back to the image it had. Every step is an event. The switch is a restart behind the front door: new
 * requests are held, in-flight ones drained, and all released once the new version is healthy (callers through
 * `/p/<profile>/` see latency, not errors; direct-port callers see the restart). Not yet the standby handover of
 * migrate.ts, which would shorten the hold to the handover.
 */
import { Conflict, InputInvalid } from "@twilight/core";
import { imageRefs, projectVersion } from "../images/refs.js";
import { readProfileEnv } from "../profiles/layout.js";
import type { ProfileRow } from "../registry/types.js";
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
  actor: string;
  gateTimeoutMs?: number;
}

export interface UpgradeResult {
  to: string;
  image: string;
  outcome: "completed" | "rolled-back" | "noop";
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

export class UpgradeService {
  private running: Rollout | undefined;
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
    const r = this.running;
    return {
      running: Boolean(r),
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

  /** Stop the rollout in progress after the profile being switched, and roll back what it switched. */
  abort(actor: string): { aborting: boolean; message: string } {
    if (!this.running) return { aborting: false, message: "no rollout in progress" };
    this.running.abort = true;
    void this.event("fleet", actor, "upgrade-abort", "info", { to: this.running.to });
    return {
      aborting: true,
      message: `the rollout to ${this.running.to} stops after ${this.running.current ?? "this step"} and rolls back`,
    };
  }

  async upgrade(req: UpgradeRequest, progress: Progress = noProgress): Promise<UpgradeResult> {
    if (this.running)
      throw new Conflict(`a rollout to ${this.running.to} is in progress`, {
        hint: "hermes-admin rollout status; hermes-admin rollout abort",
      });
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
      return await this.rollout(req, state, progress);
    } finally {
      this.running = undefined;
    }
  }

  private async rollout(req: UpgradeRequest, state: Rollout, progress: Progress): Promise<UpgradeResult> {
    const t0 = performance.now();
    const image = await this.imageFor(req.to);
    const fallback = await this.defaultImage();
    const canaryN = Math.max(1, req.canary ?? 1);
    const rows = (await this.profiles.list()).sort((a, b) => a.name.localeCompare(b.name));
    const skipped: UpgradeResult["skipped"] = [];
    const todo: ProfileRow[] = [];
    for (const r of rows) {
      if (r.tier !== "container") skipped.push({ profile: r.name, reason: "prefab runs the host's runtime" });
      else if (r.desired_state !== "running") skipped.push({ profile: r.name, reason: `desired state ${r.desired_state}` });
      else if ((r.image ?? fallback) === image) skipped.push({ profile: r.name, reason: "already on it" });
      else todo.push(r);
    }
    const canary = todo.slice(0, canaryN).map((r) => r.name);
    const out: UpgradeResult = { to: req.to, image, outcome: "noop", canary, upgraded: [], rolled_back: [], skipped, ms: 0 };
    await this.event("fleet", req.actor, "upgrade-start", "info", { image, canary, profiles: todo.map((r) => r.name) });
    const done: Array<{ name: string; from: string | null }> = [];
    state.image = image;
    state.remaining = todo.map((r) => r.name);
    // canaries one at a time, then batches of --max-unavailable; the first failure (or an abort) ends the rollout
    const k = Math.max(1, req.maxUnavailable ?? 1);
    const batches: ProfileRow[][] = todo.slice(0, canary.length).map((r) => [r]);
    for (let i = canary.length; i < todo.length; i += k) batches.push(todo.slice(i, i + k));
    for (const batch of batches) {
      const phase = canary.includes(batch[0]?.name ?? "") ? "canary" : "rollout";
      state.current = batch.map((r) => r.name).join(",");
      state.remaining = state.remaining.filter((n) => !batch.some((r) => r.name === n));
      const errs = await Promise.all(
        batch.map(async (r) => {
          progress(phase, { profile: r.name, image });
          if (state.abort)
            return { profile: r.name, step: "aborted", error: "aborted by the operator (hermes-admin rollout abort)" };
          done.push({ name: r.name, from: r.image });
          const err = await this.switchAndGate(r.name, image, req, progress);
          if (err) return { profile: r.name, ...err };
          out.upgraded.push(r.name);
          state.upgraded.push(r.name);
          await this.event(r.name, req.actor, "upgrade-step", "ok", { image, phase });
          return undefined;
        }),
      );
      const failed = errs.find((e) => e !== undefined);
      if (!failed) continue;
      out.failed = failed;
      await this.event(failed.profile, req.actor, "upgrade-step", "error", { image, phase, ...failed });
      progress("rollback", { profiles: done.map((d) => d.name) });
      for (const d of done.reverse()) {
        const back = await this.switchAndGate(d.name, d.from, req, progress);
        await this.event(d.name, req.actor, "upgrade-rollback", back ? "error" : "ok", { to: d.from, ...(back ?? {}) });
        if (!back) out.rolled_back.push(d.name);
      }
      out.outcome = "rolled-back";
      break;
    }
    if (!out.failed && out.upgraded.length) out.outcome = "completed";
    if (out.outcome === "rolled-back") out.upgraded = [];
    out.ms = Math.round(performance.now() - t0);
    await this.event("fleet", req.actor, "upgrade", out.failed ? "error" : "ok", { ...out });
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
    const key = (await readProfileEnv(row.profile_path, row.uid)).API_SERVER_KEY ?? "";
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "upgrade gate: what can you do?" }] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await res.json().catch(() => undefined)) as { choices?: Array<{ message?: { content?: string } }> } | undefined;
    if (res.status !== 200 || !body?.choices?.[0]?.message?.content) throw new Error(`the gate query answered ${res.status}`);
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
