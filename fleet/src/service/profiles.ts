/**
 * Profile lifecycle as the operator sees it: spawn, start, stop, restart, rm, and views. Each operation holds the
 * profile's lock, records a profile_events row, and leaves the registry consistent with what runs.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  assertPlan,
  assertProfileName,
  Conflict,
  DomainError,
  InputInvalid,
  inContainer,
  isPlan,
  isTier,
  NotFound,
  Precondition,
  parseEnv,
  renderEnv,
  TIERS,
  type Tier,
} from "@twilight/core";
import { killUid, liveUids } from "../lib/proc.js";
import { readNoFollow, removeFilesOfUid, writeNoFollow } from "../lib/safe-fs.js";
import { MCP_SOCKET_NAME } from "../mcp-service/spec.js";
import { readFence } from "../profiles/fence.js";
import {
  archiveProfileDir,
  FLEET_FILE_MODE,
  listArchives,
  type MaterializeOptions,
  materializeProfile,
  ownersUnder,
  purgeArchive,
  readProfileEnv,
  removeProfileDir,
} from "../profiles/layout.js";
import { PINNED_KEYS_REL } from "../profiles/pinned-keys.js";
import type { ProfileRow } from "../registry/types.js";
import { DATA_SOCKET_MOUNT } from "../runtime/container-spec.js";
import { limitsForPlan } from "../runtime/limits.js";
import { nodeLoad, place, rootOf, unfit } from "../runtime/placement.js";
import type { SwarmDriver } from "../runtime/swarm.js";
import type { WorkloadStats } from "../runtime/types.js";
import type { Supervisor } from "../supervisor/supervisor.js";
import { modelFor, type RenderInput } from "../template/render.js";
import { buildSecrets, freshSecret, parseSecretsSchema, secretsFingerprint } from "../template/secrets.js";
import { portLeases, type UidLease, uidLeases } from "../workload/allocate.js";
import { audit } from "../workload/audit.js";
import { type FleetContext, type KeyedMutex, noProgress, type Progress } from "../workload/context.js";
import type { Ready as PoolTicket, WarmPool } from "../workload/pool.js";
import { StatsCache } from "../workload/stats-cache.js";
import { handleOf, handlePatch, isRunning, specOf, startWorkload, stopWorkload } from "../workload/workloads.js";
import { removeStrayWorkloads } from "./reconcile.js";

export interface SpawnRequest {
  name: string;
  tier: string;
  plan?: string | null;
  userId?: string | null;
  set?: Record<string, string>;
  /** Swarm tier: the node to hold the profile (its fleet name); unset: placed by free memory under the per-node cap. */
  node?: string | null;
  /** Idempotency key (billing: the order id). The same key returns the profile it created. */
  idempotencyKey?: string | null;
  actor: string;
}

/** A profile made from given secrets and files (restore, import): the same steps and rollback as a spawn. */
export interface CreateFromRequest {
  name: string;
  tier: Tier;
  plan: string | null;
  userId: string | null;
  secrets: Record<string, string>;
  populate: NonNullable<MaterializeOptions["populate"]>;
  /** The audit action ("restore", "import"). */
  action: string;
  actor: string;
}

export interface SpawnResult {
  created: boolean;
  profile: ProfileRow;
}

export class ProfileService {
  private pool: WarmPool | null = null;
  /** CPU/memory per profile for `list`: read from memory, sampled in the background (workload/stats-cache.ts). */
  readonly stats: StatsCache<ProfileRow>;

  constructor(
    private readonly ctx: FleetContext,
    private readonly mutex: KeyedMutex,
    private readonly supervisor: Supervisor,
  ) {
    this.stats = new StatsCache<ProfileRow>(
      (row) =>
        this.ctx.drivers.has(row.tier)
          ? this.ctx.drivers.for(row.tier).stats(specOf(this.ctx, row), handleOf(row))
          : Promise.resolve(null),
      {
        maxAgeMs: 10_000,
        now: () => this.ctx.now(),
        onError: (name, e) => this.ctx.log.debug({ profile: name, err: (e as Error).message }, "stats sample failed"),
      },
    );
  }

  /** Refresh the stats of every profile that should run (the daemon calls this every few seconds). */
  async sampleStats(): Promise<void> {
    const rows = (await this.ctx.registry.list()).filter((r) => r.desired_state === "running" && r.status === "running");
    await this.stats.sweep(rows, 4);
  }

  async get(name: string): Promise<ProfileRow> {
    assertProfileName(name);
    const row = await this.ctx.registry.get(name);
    if (!row) throw new NotFound("profile", name, "`hermes-admin list` shows the profiles that exist");
    return row;
  }

  list(): Promise<ProfileRow[]> {
    return this.ctx.registry.list();
  }

  renderInput(
    row: Pick<ProfileRow, "name" | "generation" | "port" | "plan"> & { node?: string | null },
    tier: Tier,
  ): RenderInput {
    // a swarm profile on another node reaches the data service by name on the overlay, or at FLEET_MCP_URL_REMOTE
    const remote =
      tier === "swarm" &&
      Boolean(row.node) &&
      this.ctx.drivers.has("swarm") &&
      row.node !== (this.ctx.drivers.for("swarm") as SwarmDriver).identity.node;
    const mcpUrl =
      remote && this.ctx.cfg.mcp.urlRemote
        ? this.ctx.cfg.mcp.urlRemote
        : inContainer(tier)
          ? this.ctx.cfg.mcp.urlContainer
          : this.ctx.cfg.mcp.urlPrefab;
    return {
      profile: row.name,
      tier,
      generation: row.generation,
      port: row.port,
      plan: row.plan,
      mcpUrl,
      // the data service's socket: on the host (prefab), through the read-only mount of its directory (container);
      // a swarm task may run on another node, so it goes by the network (mcpUrl)
      mcpSocket:
        tier === "prefab"
          ? join(this.ctx.cfg.mcp.socketDir, MCP_SOCKET_NAME)
          : tier === "container"
            ? `${DATA_SOCKET_MOUNT}/${MCP_SOCKET_NAME}`
            : "",
      citeKeysFile: PINNED_KEYS_REL,
      model: modelFor(this.ctx.cfg.model, this.ctx.cfg.gateway, tier),
    };
  }

  /**
   * The swarm node for a new profile and the root its directory goes under: the node asked for when it can take one,
   * else the one with the most memory left (runtime/placement.ts). Throws with every node's reason when none can.
   */
  async placeSwarm(rows: ProfileRow[], req: Pick<SpawnRequest, "node" | "plan">): Promise<{ node: string; root: string }> {
    const swarm = this.ctx.drivers.for("swarm") as SwarmDriver;
    const nodes = await swarm.nodes(0);
    const { load } = nodeLoad(rows, swarm.identity.node);
    const input = {
      load,
      need: limitsForPlan(req.plan ?? null).memoryBytes,
      maxPerNode: this.ctx.cfg.nodeMaxProfiles,
      ownRoot: this.ctx.cfg.profilesRoot,
    };
    if (req.node) {
      const n = await swarm.node(req.node, 0);
      const why = unfit(n, input);
      if (why) throw new Precondition(`node ${req.node} cannot take a profile: ${why}`, { hint: "`hermes-admin nodes`" });
      return { node: n.name, root: rootOf(n, input.ownRoot) };
    }
    const p = place({ ...input, nodes });
    if ("none" in p)
      throw new Precondition(
        `no swarm node can take a profile: ${Object.entries(p.none)
          .map(([k, v]) => `${k}: ${v}`)
          .join("; ")}`,
        { hint: "`hermes-admin nodes` shows each node; raise FLEET_NODE_MAX_PROFILES or add a node" },
      );
    return p;
  }

  /** Validate everything first (nothing written on bad input), then create dir, row, token, start, wait healthy. */
  async spawn(req: SpawnRequest, progress: Progress = noProgress): Promise<SpawnResult> {
    const name = assertProfileName(req.name);
    if (!isTier(req.tier)) throw new InputInvalid(`tier ${JSON.stringify(req.tier)} is not one of ${TIERS.join(", ")}`);
    const tier = req.tier;
    if (req.plan != null) assertPlan(req.plan); // a closed set: an unknown plan is a 400 naming the valid ones
    if (req.idempotencyKey !== undefined && req.idempotencyKey !== null && !/^[A-Za-z0-9_.:|*-]{1,64}$/.test(req.idempotencyKey))
      throw new InputInvalid("idempotency key must be 1-64 characters of [A-Za-z0-9_.:|*-]");
    const schema = parseSecretsSchema(JSON.parse(await readFile(join(this.ctx.cfg.templateDir, "secrets.schema.json"), "utf8")));
    const secrets = buildSecrets(schema, req.set ?? {});
    if (!this.ctx.drivers.has(tier)) this.ctx.drivers.for(tier); // throws a DriverError with a hint
    if (req.node && tier !== "swarm")
      throw new InputInvalid(`--node places swarm profiles; ${name} would be ${tier}`, { hint: "add --tier swarm" });
    return await this.mutex.run(`spawn`, () =>
      this.mutex.run(name, async () => {
        if (req.idempotencyKey) {
          const prior = await this.ctx.registry.getByOrderId(req.idempotencyKey);
          if (prior) {
            progress("exists", { name: prior.name, reason: "idempotency key already used" });
            return { created: false, profile: prior };
          }
        }
        if (await this.ctx.registry.get(name))
          throw new Conflict(`profile ${name} already exists`, {
            hint: "choose another name, or pass the same idempotency key as the request that created it",
          });
        return { created: true, profile: await this.create({ req, name, tier, secrets, progress }) };
      }),
    );
  }

  async createFrom(c: CreateFromRequest, progress: Progress = noProgress): Promise<ProfileRow> {
    const name = assertProfileName(c.name);
    if (!this.ctx.drivers.has(c.tier)) this.ctx.drivers.for(c.tier); // throws a DriverError with a hint
    return await this.mutex.run(`spawn`, () =>
      this.mutex.run(name, async () => {
        if (await this.ctx.registry.get(name))
          throw new Conflict(`profile ${name} already exists`, { hint: "choose another name (--as NAME) or pass --force" });
        const req: SpawnRequest = { name, tier: c.tier, plan: c.plan, userId: c.userId, actor: c.actor };
        return await this.create({
          req,
          name,
          tier: c.tier,
          secrets: c.secrets,
          progress,
          populate: c.populate,
          action: c.action,
        });
      }),
    );
  }

  private async create(o: {
    req: SpawnRequest;
    name: string;
    tier: Tier;
    secrets: Record<string, string>;
    progress: Progress;
    populate?: MaterializeOptions["populate"];
    action?: string;
  }) {
    const portMark = portLeases.mark();
    const rows = await this.ctx.registry.list();
    // a prefab spawn takes a runtime from the warm pool when one is ready: its uid and port become the profile's
    const pooled = o.tier === "prefab" ? this.pool?.take() : undefined;
    if (pooled) return await this.createOn(o, rows, pooled.p.slot.port, pooled);
    const lease = await portLeases.lease(this.ctx.cfg.ports, new Set(rows.map((r) => r.port)), portMark);
    try {
      return await this.createOn(o, rows, lease.port);
    } finally {
      lease.release(); // recorded in the row by now, or rolled back
    }
  }

  /** uids a new profile (or pooled runtime) must not take: the registry's, any that runs something or owns a directory. */
  async takenUids(): Promise<Set<number>> {
    const rows = await this.ctx.registry.list();
    return new Set([...rows.map((r) => r.uid), ...liveUids(), ...(await ownersUnder(this.ctx.cfg.profilesRoot))]);
  }

  /** Serve prefab spawns from a warm pool (the daemon's, while it leads). */
  usePool(pool: WarmPool | null): void {
    this.pool = pool;
  }

  private async createOn(
    o: {
      req: SpawnRequest;
      name: string;
      tier: Tier;
      secrets: Record<string, string>;
      progress: Progress;
      populate?: MaterializeOptions["populate"];
      action?: string;
    },
    rows: ProfileRow[],
    port: number,
    pooled?: PoolTicket,
  ) {
    const { name, tier, progress } = o;
    const action = o.action ?? "spawn";
    // never a uid that still runs something or owns a directory here (a kept directory from before archives existed),
    // nor one the warm pool holds
    const undo: Array<() => Promise<unknown>> = [];
    let ticket = pooled;
    if (ticket) {
      const t = ticket;
      undo.push(async () => {
        if (ticket) await this.pool?.giveBack(t); // not assigned yet: the runtime goes, the pool makes a fresh one
      });
    }
    // leased until the row records it (or the spawn is rolled back): the warm pool allocates from the same leases
    const uidMark = uidLeases.mark();
    const uidLease = ticket ? undefined : uidLeases.lease(this.ctx.cfg.uids, await this.takenUids(), uidMark);
    undo.push(async () => uidLease?.release());
    const uid = ticket?.p.slot.uid ?? (uidLease as UidLease).uid;
    const where = tier === "swarm" ? await this.placeSwarm(rows, o.req) : { node: null, root: this.ctx.cfg.profilesRoot };
    progress("allocated", { port, uid, ...(where.node ? { node: where.node } : {}), ...(ticket ? { pooled: true } : {}) });
    const t0 = performance.now();
    try {
      const render = this.renderInput({ name, generation: 1, port, plan: o.req.plan ?? null, node: where.node }, tier);
      const dir = await materializeProfile({
        root: where.root,
        templateDir: this.ctx.cfg.templateDir,
        skillsDir: this.ctx.cfg.skillsDir,
        uid,
        gid: uid,
        secrets: o.secrets,
        render,
        populate: o.populate,
      });
      undo.push(() => removeProfileDir(where.root, name));
      progress("directory", { path: dir });
      const row = await this.ctx.registry.insert({
        name,
        tier,
        user_id: o.req.userId ?? null,
        status: "creating",
        desired_state: "running",
        ...handlePatch(null),
        profile_path: dir,
        node: where.node,
        port,
        uid,
        gid: uid,
        image: inContainer(tier) ? (this.ctx.cfg.image ?? null) : null,
        plan: o.req.plan ?? null,
        order_id: o.req.idempotencyKey ?? null,
        secrets_fingerprint: secretsFingerprint(o.secrets),
        generation: 1,
      });
      undo.push(() => this.ctx.registry.remove(name));
      uidLease?.release(); // the row holds it now
      progress("registered", { id: row.id });
      await this.ctx.tokens.set(name, o.secrets.MCP_TUSHARE_TOKEN ?? "");
      undo.push(() => this.ctx.tokens.revoke(name));
      await this.ctx.modelKeys.set(name, o.req.plan ? assertPlan(o.req.plan) : "basic", o.secrets.SILICONFLOW_API_KEY ?? "");
      undo.push(() => this.ctx.modelKeys.revoke(name));
      progress("starting", { tier });
      undo.push(() => stopWorkload(this.ctx, row, 3_000).then(() => this.ctx.drivers.for(tier).remove(specOf(this.ctx, row))));
      const running = await this.supervisor.quietly(name, async () => {
        const t = ticket;
        if (!t || !this.pool) return await startWorkload(this.ctx, row, true);
        ticket = undefined; // assign() disposes of the runtime whatever happens
        try {
          return await this.pool.assign(t, row);
        } catch (e) {
          this.ctx.log.warn({ profile: name, err: (e as Error).message }, "pooled runtime not assigned; starting cold");
          return await startWorkload(this.ctx, row, true);
        }
      });
      this.supervisor.started(name);
      progress("healthy", { ms: Math.round(performance.now() - t0) });
      await this.event(name, o.req.actor, action, "ok", { tier, port, uid, ms: Math.round(performance.now() - t0) });
      return running;
    } catch (err) {
      // Undo while exits are expected: the dying workload's exit event must not be taken for a crash.
      await this.supervisor.quietly(name, async () => {
        for (const u of undo.reverse()) await u().catch(() => undefined);
      });
      this.supervisor.forget(name);
      await this.event(name, o.req.actor, action, "error", { error: (err as Error).message });
      if (err instanceof DomainError) throw err;
      throw new DomainError("INTERNAL", `${action} of ${name} failed and was rolled back: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async start(name: string, actor: string, progress: Progress = noProgress): Promise<ProfileRow> {
    return await this.mutex.run(name, async () => {
      const row = await this.get(name);
      if (row.status === "migrating")
        throw new Precondition(`profile ${name} is migrating`, { hint: "wait for the migration to end" });
      const fence = await readFence(row.profile_path);
      if (fence)
        throw new Precondition(`profile ${name} was exported at ${fence.exported_at} and is fenced on this host`, {
          hint: `it runs where it was imported now; to run this copy anyway (the two will diverge): hermes-admin unfence ${name}`,
        });
      this.supervisor.reset(name);
      if (await isRunning(this.ctx, row)) {
        progress("already running");
        return await this.ctx.registry.update(name, { desired_state: "running" });
      }
      await this.ctx.registry.update(name, { desired_state: "running", restart_count: 0 });
      await this.registerModelKey(row);
      progress("starting", { tier: row.tier });
      // The failure is recorded while exits are still expected, so a late exit event cannot be taken for a crash.
      const out = await this.supervisor.quietly(name, async () => {
        try {
          return await startWorkload(this.ctx, row, true);
        } catch (err) {
          await this.ctx.registry.update(name, { status: "error", last_error: (err as Error).message });
          await this.event(name, actor, "start", "error", { error: (err as Error).message });
          throw err;
        }
      });
      this.supervisor.started(name);
      progress("healthy");
      await this.event(name, actor, "start", "ok", {});
      return out;
    });
  }

  async stop(name: string, actor: string, progress: Progress = noProgress): Promise<ProfileRow> {
    return await this.mutex.run(name, async () => {
      const row = await this.get(name);
      if (row.status === "migrating")
        throw new Precondition(`profile ${name} is migrating`, { hint: "wait for the migration to end" });
      this.supervisor.reset(name);
      await this.ctx.registry.update(name, { desired_state: "stopped" });
      progress("stopping", { timeout_ms: this.ctx.cfg.stopTimeoutMs });
      await this.supervisor.quietly(name, () => stopWorkload(this.ctx, row));
      // a stopped profile spends nothing: its model key (readable by the tenant) is refused until it starts again
      await this.ctx.modelKeys.revoke(name);
      await this.event(name, actor, "stop", "ok", {});
      return await this.ctx.registry.update(name, { status: "stopped", ...handlePatch(null) });
    });
  }

  async restart(name: string, actor: string, progress: Progress = noProgress): Promise<ProfileRow> {
    await this.mutex.run(name, async () => {
      const row = await this.get(name);
      progress("stopping");
      await this.supervisor.quietly(name, () => stopWorkload(this.ctx, row));
      await this.ctx.registry.update(name, { status: "stopped", ...handlePatch(null) });
    });
    return await this.start(name, actor, progress);
  }

  /**
   * New values for generated secrets of a profile (`model`: its virtual key at the model gateway; `api`: the key its
   * user calls it with), written to its `.env` without following a link, registered where they name the profile (the
   * gateway refuses the old model key within a second), then a restart when it runs so it reads them. The new values
   * are never returned or logged; the registry's secrets fingerprint follows.
   */
  async rotateSecrets(
    name: string,
    which: ReadonlyArray<"model" | "api">,
    actor: string,
    progress: Progress = noProgress,
  ): Promise<{ profile: ProfileRow; rotated: string[]; restarted: boolean }> {
    const KEYS = { model: "SILICONFLOW_API_KEY", api: "API_SERVER_KEY" } as const;
    const keys = [...new Set(which)].map((w) => KEYS[w]);
    const rotated = await this.mutex.run(name, async () => {
      const row = await this.get(name);
      if (row.status === "migrating")
        throw new Precondition(`profile ${name} is migrating`, { hint: "wait for the migration to end" });
      const schema = parseSecretsSchema(
        JSON.parse(await readFile(join(this.ctx.cfg.templateDir, "secrets.schema.json"), "utf8")),
      );
      const fresh = Object.fromEntries(keys.map((k) => [k, freshSecret(schema, k)]));
      const envPath = join(row.profile_path, ".env");
      const next = renderEnv(await readNoFollow(envPath, { owners: [0, row.uid], maxBytes: 64 * 1024 }), fresh);
      await writeNoFollow(row.profile_path, ".env", next, { uid: 0, gid: row.gid, mode: FLEET_FILE_MODE });
      progress("env", { rotated: keys });
      if (fresh.SILICONFLOW_API_KEY) {
        await this.ctx.modelKeys.set(name, isPlan(row.plan) ? row.plan : "basic", fresh.SILICONFLOW_API_KEY);
        progress("gateway", { previous_key: "revoked" });
      }
      const env = parseEnv(next);
      const secrets = Object.fromEntries(
        Object.keys(schema.secrets)
          .filter((k) => env[k] !== undefined)
          .map((k) => [k, env[k] as string]),
      );
      await this.ctx.registry.update(name, { secrets_fingerprint: secretsFingerprint(secrets) });
      await this.event(name, actor, "rotate-secrets", "ok", { rotated: keys });
      return { row, running: await isRunning(this.ctx, row) };
    });
    let profile = await this.get(name);
    if (rotated.running) profile = await this.restart(name, actor, progress);
    return { profile, rotated: keys, restarted: rotated.running };
  }

  /** Register the profile's model key with the gateway again (start after a stop, which revoked it). */
  private async registerModelKey(row: ProfileRow): Promise<void> {
    const key = (await readProfileEnv(row.profile_path, row.uid)).SILICONFLOW_API_KEY;
    if (key) await this.ctx.modelKeys.set(row.name, isPlan(row.plan) ? row.plan : "basic", key);
  }

  /** Remove a profile; its directory is purged, or kept as a root-only archive (returned). */
  async remove(name: string, o: { force: boolean; purge: boolean; actor: string }): Promise<{ archive?: string }> {
    return await this.mutex.run(name, async () => {
      const row = await this.get(name);
      const running = await isRunning(this.ctx, row);
      if (running && !o.force)
        throw new Precondition(`profile ${name} is running`, {
          hint: `stop it first (hermes-admin stop ${name}) or pass --force`,
        });
      await this.ctx.registry.update(name, { desired_state: "stopped" });
      if (running) await this.supervisor.quietly(name, () => stopWorkload(this.ctx, row));
      if (this.ctx.drivers.has(row.tier)) await this.ctx.drivers.for(row.tier).remove(specOf(this.ctx, row));
      // and any other generation left by an interrupted migration (its standby container, say)
      await removeStrayWorkloads(this.ctx, row, true);
      await this.ctx.tokens.revoke(name);
      await this.ctx.modelKeys.revoke(name);
      // nothing of the tenant may outlive it: strays that left its process group, its files in shared scratch dirs
      const killed = killUid(row.uid);
      await this.ctx.registry.remove(name);
      this.supervisor.forget(name);
      // the directory's own root: the fleet's, or the root of the swarm node that holds it
      const root = dirname(row.profile_path);
      const archive = o.purge
        ? await removeProfileDir(root, name).then(() => undefined)
        : await archiveProfileDir(root, name, new Date(this.ctx.now()));
      const scratch = await removeFilesOfUid(row.uid, ["/tmp", "/var/tmp", "/dev/shm"], { exclude: [this.ctx.cfg.opsDir] });
      await this.event(name, o.actor, "rm", "ok", {
        purge: o.purge,
        force: o.force,
        id: row.id,
        uid: row.uid,
        archive,
        strays_killed: killed.length,
        scratch_removed: scratch,
      });
      return { archive };
    });
  }

  /** Every profiles root the fleet keeps directories under: its own and each swarm node's (moved-away copies). */
  private async roots(): Promise<string[]> {
    const roots = [this.ctx.cfg.profilesRoot];
    if (this.ctx.drivers.has("swarm")) {
      const nodes = await (this.ctx.drivers.for("swarm") as SwarmDriver).nodes().catch(() => []);
      for (const n of nodes) if (n.root && !roots.includes(n.root)) roots.push(n.root);
    }
    return roots;
  }

  async archives() {
    const out: Array<{ name: string; profile: string; removed_at: string; root: string }> = [];
    for (const root of await this.roots()) for (const a of await listArchives(root)) out.push({ ...a, root });
    return out.sort((a, b) => b.removed_at.localeCompare(a.removed_at));
  }

  async purgeArchive(archive: string, actor: string): Promise<void> {
    let purged = false;
    for (const root of await this.roots()) if (await purgeArchive(root, archive)) purged = true;
    if (!purged) throw new NotFound("archive", archive, "`hermes-admin archives` lists the kept directories");
    await this.event(archive.split("@")[0] as string, actor, "purge-archive", "ok", { archive });
  }

  /** Runtime view for `list`: pid or container, uptime, and optionally CPU/memory. */
  /**
   * What runs now. `stats`: "live" samples (one profile: `get`), "cached" reads the background sample and its age
   * (`list`: instant however many profiles), "none" skips them.
   */
  async runtimeView(row: ProfileRow, stats: "live" | "cached" | "none") {
    const driverOk = this.ctx.drivers.has(row.tier);
    const spec = specOf(this.ctx, row);
    const state = driverOk ? await this.ctx.drivers.for(row.tier).inspect(spec, handleOf(row)) : { running: false };
    let sample: WorkloadStats | null = null;
    let age: number | null = null;
    if (state.running && driverOk && stats === "live") {
      sample = await this.ctx.drivers.for(row.tier).stats(spec, handleOf(row));
      age = 0;
    } else if (state.running && stats === "cached") {
      const c = this.stats.peek(row);
      sample = c.stats;
      age = c.age_ms;
    }
    const started = row.last_started_at ? Date.parse(row.last_started_at) : undefined;
    return {
      running: state.running,
      uptime_s: state.running && started ? Math.max(0, Math.round((this.ctx.now() - started) / 1000)) : null,
      cpu_percent: sample ? Math.round(sample.cpuPercent * 10) / 10 : null,
      memory_bytes: sample?.memoryBytes ?? null,
      ...(stats !== "none" ? { stats_age_s: age === null ? null : Math.round(age / 1000) } : {}),
    };
  }

  private event(profile: string, actor: string, action: string, result: "ok" | "error", detail: Record<string, unknown>) {
    return audit(this.ctx, { profile, actor, action, result, detail });
  }
}
