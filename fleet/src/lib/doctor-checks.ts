/**
 * `hermes-admin doctor`: pure judgements. Each function takes facts gathered elsewhere (by the CLI from the host, by the
 * daemon from its registry, drivers and the data service) and returns one row: pass / warn / fail, what was looked at,
 * why it is not fine, and the command that fixes it. No I/O here, so every row is unit-tested on made-up facts.
 */

export type CheckStatus = "pass" | "warn" | "fail";

export interface Check {
  /** Stable id (for scripts: `jq '.checks[] | select(.id=="dockerd")'`). */
  id: string;
  status: CheckStatus;
  /** What was checked, and what was found. */
  what: string;
  /** Why it is a problem (warn/fail only). */
  why?: string;
  /** The command or step that fixes it (warn/fail only). */
  fix?: string;
}

const pass = (id: string, what: string): Check => ({ id, status: "pass", what });
const bad = (id: string, status: "warn" | "fail", what: string, why: string, fix: string): Check => ({
  id,
  status,
  what,
  why,
  fix,
});

const ENSURE_DOCKER = "start dockerd: `systemctl start docker` or `bash -c 'source scripts/lib/common.sh; ensure_docker'`";

/** The Docker Engine as seen from where the check runs (the CLI pings the socket the fleet is configured with). */
export function checkDockerd(f: { endpoint: string; ok: boolean; version?: string; apiVersion?: string; error?: string }): Check {
  if (f.ok) return pass("dockerd", `Docker Engine ${f.version ?? "?"} (API ${f.apiVersion ?? "?"}) at ${f.endpoint}`);
  return bad(
    "dockerd",
    "fail",
    `Docker Engine at ${f.endpoint}: not answering (${f.error ?? "no answer"})`,
    "container profiles, the images and the data service all need it",
    `${ENSURE_DOCKER}; if DOCKER_HOST is set, check it points at the engine's socket`,
  );
}

/** The daemon's own Docker connection: one made at its start; a dockerd started later is not picked up. */
export function checkDaemonDocker(f: { connected: boolean }): Check {
  if (f.connected) return pass("daemon-docker", "the fleet daemon has a Docker connection (container tier enabled)");
  return bad(
    "daemon-docker",
    "fail",
    "the fleet daemon has no Docker connection (container tier disabled)",
    "the daemon connects to Docker once, at start; dockerd was down then or DOCKER_HOST is wrong",
    `${ENSURE_DOCKER}; then \`hermes-admin down && hermes-admin up\` (profiles keep running)`,
  );
}

/**
 * Container profiles' network (FLEET_CONTAINER_NETWORK): on a bridge whose inter-container traffic is on, one tenant's
 * container reaches every other container there (other profiles' API ports, behind their keys; and, on the engine's
 * default bridge, any other container of the host). `enable_icc` is the engine's option of that bridge.
 */
export function checkContainerNetwork(f: { network: string; driver?: string; options: Record<string, string> }): Check {
  const id = "container-network";
  if (f.driver !== undefined && f.driver !== "bridge")
    return pass(id, `container profiles run on ${f.network} (driver ${f.driver}): isolation is that driver's`);
  if (f.options["com.docker.network.bridge.enable_icc"] === "false")
    return pass(id, `container profiles run on ${f.network} with inter-container traffic off`);
  const dflt = f.options["com.docker.network.bridge.default_bridge"] === "true";
  return bad(
    id,
    "warn",
    `container profiles run on ${f.network}, where containers can reach each other`,
    `a tenant's container can connect to every other container on ${f.network}${dflt ? " (every profile and any other container of this host on the default bridge)" : ""}; profiles answer only with their own key, but nothing else there should be reachable`,
    dflt
      ? 'run dockerd with --icc=false (ensure_docker does; /etc/docker/daemon.json "icc": false), then restart it'
      : `docker network create -o com.docker.network.bridge.enable_icc=false <name>, and FLEET_CONTAINER_NETWORK=<name>`,
  );
}

export function checkDaemon(f: { pidFile: string; pid?: number; url?: string; healthy: boolean }): Check {
  if (f.healthy) return pass("daemon", `fleet daemon pid ${f.pid} answers at ${f.url}`);
  const found = f.pid ? `pid ${f.pid} at ${f.url} does not answer` : `no live daemon in ${f.pidFile}`;
  return bad(
    "daemon",
    "fail",
    `fleet daemon: ${found}`,
    "nothing supervises the profiles, the front door and the admin API are closed",
    "hermes-admin up (re-adopts the running profiles); its log: ops/logs/fleet.log",
  );
}

/** A file holding a secret (admin token, provisioning keys): owner-only. `mode` is st_mode; undefined = absent. */
export function checkSecretFile(id: string, path: string, mode: number | undefined, required: boolean): Check {
  if (mode === undefined)
    return required
      ? bad(id, "warn", `${path}: absent`, "the daemon creates it at its first start", "hermes-admin up")
      : pass(id, `${path}: absent (nothing to protect)`);
  const perm = mode & 0o777;
  if ((perm & 0o077) === 0) return pass(id, `${path}: mode ${perm.toString(8)}`);
  return bad(
    id,
    "fail",
    `${path}: mode ${perm.toString(8)}`,
    `it holds a secret and is readable${perm & 0o004 ? " by every user" : " by its group"}; the CLI refuses to use it`,
    `chmod 600 ${path}`,
  );
}

/** ops/: traversable by the profiles' uids (o+x), writable by its owner only. */
export function checkOpsDir(path: string, mode: number | undefined, ownerUid?: number, selfUid?: number): Check {
  if (mode === undefined) return bad("ops-dir", "warn", `${path}: absent`, "nothing has run here yet", "hermes-admin up");
  const perm = mode & 0o777;
  if (perm & 0o022)
    return bad(
      "ops-dir",
      "fail",
      `${path}: mode ${perm.toString(8)}`,
      "writable by other users: anyone could replace the registry, the pid file or a profile directory",
      `chmod 755 ${path}`,
    );
  if (ownerUid !== undefined && selfUid !== undefined && selfUid !== 0 && ownerUid !== selfUid)
    return bad(
      "ops-dir",
      "warn",
      `${path}: owned by uid ${ownerUid}, this is uid ${selfUid}`,
      "the daemon runs as the owner of ops/ (root)",
      "run hermes-admin as the same user as the daemon (sudo)",
    );
  return pass("ops-dir", `${path}: mode ${perm.toString(8)}`);
}

const GiB = 1024 ** 3;

/** Free space and inodes of the file system holding ops/. */
export function checkDisk(f: { path: string; freeBytes: number; totalBytes: number; freeInodes: number; totalInodes: number }) {
  const pctB = f.totalBytes ? (100 * f.freeBytes) / f.totalBytes : 100;
  const pctI = f.totalInodes ? (100 * f.freeInodes) / f.totalInodes : 100;
  const what = `${f.path}: ${(f.freeBytes / GiB).toFixed(1)} GiB free (${pctB.toFixed(0)}%), inodes ${pctI.toFixed(0)}% free`;
  const fix = "free space under ops/ (hermes-admin archives; hermes-admin rm --purge <archive>; docker image prune)";
  if (f.freeBytes < 0.5 * GiB || pctB < 2 || pctI < 2)
    return bad("disk", "fail", what, "SQLite, DuckDB and the profiles' state.db fail their writes when the disk fills", fix);
  if (f.freeBytes < 2 * GiB || pctB < 10 || pctI < 10)
    return bad("disk", "warn", what, "less than 10% (or 2 GiB) left for logs, warehouse and conversations", fix);
  return pass("disk", what);
}

/** Rows in a transient status (creating, starting, migrating) for longer than an operation can take. */
export function checkTransientRows(
  rows: ReadonlyArray<{ name: string; status: string; updated_at: string }>,
  now: number,
  graceMs: number,
): Check {
  const stuck = rows.filter(
    (r) => ["creating", "starting", "migrating"].includes(r.status) && now - Date.parse(r.updated_at) > graceMs,
  );
  if (stuck.length === 0) return pass("transient-rows", "no profile stuck in creating / starting / migrating");
  const list = stuck.map((r) => `${r.name} (${r.status} for ${Math.round((now - Date.parse(r.updated_at)) / 1000)} s)`);
  return bad(
    "transient-rows",
    "fail",
    `stuck: ${list.join(", ")}`,
    "an operation was interrupted (daemon killed mid-spawn or mid-migration) and nothing finished it",
    `restart the daemon, which reconciles them: \`hermes-admin down && hermes-admin up\`; then hermes-admin events ${stuck[0]?.name}`,
  );
}

/** Profiles the supervisor gave up on (error) or that restart again and again. */
export function checkCrashLoops(
  rows: ReadonlyArray<{ name: string; status: string; desired_state: string; restart_count: number; last_error: string | null }>,
  maxRestarts: number,
): Check {
  const failed = rows.filter((r) => r.status === "error" || (r.desired_state === "running" && r.restart_count >= maxRestarts));
  if (failed.length === 0) return pass("crash-loops", `no profile in error or at ${maxRestarts}+ restarts`);
  const first = failed[0] as (typeof failed)[number];
  return bad(
    "crash-loops",
    failed.some((r) => r.status === "error") ? "fail" : "warn",
    `${failed.map((r) => `${r.name} (${r.status}, ${r.restart_count} restarts)`).join(", ")}`,
    first.last_error ? `last error of ${first.name}: ${first.last_error.slice(0, 160)}` : "the profile keeps exiting",
    `hermes-admin logs ${first.name} --tail 50; then hermes-admin restart ${first.name}`,
  );
}

/** Workloads of this fleet (by profile directory) that no registry row accounts for. */
export function checkOrphans(kind: "containers" | "processes", orphans: ReadonlyArray<{ name: string; detail?: string }>): Check {
  const id = `orphan-${kind}`;
  if (orphans.length === 0) return pass(id, `no orphaned ${kind}`);
  return bad(
    id,
    "fail",
    `${orphans.length} orphaned ${kind}: ${orphans.map((o) => o.name + (o.detail ? ` (${o.detail})` : "")).join(", ")}`,
    "a workload of this fleet with no registry row (or of a stale generation): it holds a uid, a port or memory",
    kind === "containers"
      ? "hermes-admin orphans --remove (or restart the daemon, which removes stray generations)"
      : "restart the daemon, which removes stray generations: `hermes-admin down && hermes-admin up`; else kill the pid",
  );
}

export interface DataServiceFacts {
  name: string;
  exists: boolean;
  running: boolean;
  url: string;
  health: { ok: boolean; httpStatus?: number; status?: string; error?: string } | null;
  /** From the service's /health when it answered. */
  seeding?: { state: string; days_done?: number; days_total?: number | null; as_of?: string | null } | null;
  lagDays?: number | null;
}

export function checkDataService(f: DataServiceFacts): Check {
  if (!f.running)
    return bad(
      "data-service",
      "fail",
      `data service ${f.name}: ${f.exists ? "stopped" : "no container"}`,
      "every market-data tool call of every profile fails",
      "hermes-admin up (or hermes-admin mcp up)",
    );
  if (!f.health?.httpStatus)
    return bad(
      "data-service",
      "fail",
      `data service ${f.name} runs but ${f.url}/health does not answer (${f.health?.error ?? "no answer"})`,
      "profiles cannot reach it",
      `docker logs ${f.name} --tail 50; then hermes-admin mcp down && hermes-admin mcp up`,
    );
  if (f.seeding && f.seeding.state === "seeding") {
    const n = f.seeding.days_total ? `, ${f.seeding.days_done ?? 0} of ${f.seeding.days_total} days` : "";
    return bad(
      "data-service",
      "warn",
      `data service ${f.name} is seeding its warehouse${n}${f.seeding.as_of ? `, data as of ${f.seeding.as_of}` : ""}`,
      "answers about the latest data are older than they will be once the first backfill completes",
      "wait: hermes-admin mcp status shows the progress",
    );
  }
  if (typeof f.lagDays === "number" && f.lagDays > 1)
    return bad(
      "data-service",
      "warn",
      `data service ${f.name}: ${f.lagDays} trading days behind`,
      "its backfill is failing or has not run",
      `hermes-admin mcp status (scheduler.last_run.error); docker logs ${f.name} --tail 50`,
    );
  return pass("data-service", `data service ${f.name} healthy at ${f.url} (${f.health.status ?? "?"})`);
}

export function checkImages(images: ReadonlyArray<{ ref: string; present: boolean }>): Check {
  const missing = images.filter((i) => !i.present).map((i) => i.ref);
  if (missing.length === 0) return pass("images", `images present: ${images.map((i) => i.ref).join(", ")}`);
  return bad(
    "images",
    "fail",
    `images missing: ${missing.join(", ")}`,
    "container profiles and the data service cannot start without them",
    "hermes-admin up (or hermes-admin images build)",
  );
}

/** The host port range profiles are given ports from. */
export function checkPortRange(used: number, range: { low: number; high: number }): Check {
  const size = range.high - range.low + 1;
  const what = `port range ${range.low}-${range.high}: ${used} of ${size} used`;
  const fix = "widen FLEET_PORT_RANGE in the daemon's environment, then hermes-admin down && hermes-admin up";
  if (used >= size) return bad("port-range", "fail", what, "the next spawn fails: no port left", fix);
  if (used >= size * 0.9) return bad("port-range", "warn", what, "fewer than 10% of the ports are left", fix);
  return pass("port-range", what);
}

/**
 * The Docker Engine's clock against this host's (one kernel here; a remote or Swarm engine can drift): cites carry
 * `retrieved_at` and are refused past their age, and backups and events are stamped, so a skew breaks them quietly.
 */
export function checkClockSkew(f: { hostMs: number; engineTime?: string }): Check {
  const engine = f.engineTime ? Date.parse(f.engineTime) : Number.NaN;
  if (!Number.isFinite(engine)) return pass("clock", "clock: the Docker Engine did not report its time (nothing to compare)");
  const skew = Math.round((engine - f.hostMs) / 1000);
  const what = `clock: the Docker Engine's time is ${skew === 0 ? "within 1 s of" : `${Math.abs(skew)} s ${skew > 0 ? "ahead of" : "behind"}`} this host's`;
  const fix = "synchronize both clocks (chrony or systemd-timesyncd on each host)";
  if (Math.abs(skew) > 30)
    return bad("clock", "fail", what, "cites are refused by age and stamped times disagree across hosts", fix);
  if (Math.abs(skew) > 2) return bad("clock", "warn", what, "a growing skew makes cites expire early or late", fix);
  return pass("clock", what);
}

/**
 * Every profile must pin the data service's current signing key (the one without `not_after`), or it refuses every
 * cite it is given. `pinned: null` is a profile whose pinned file could not be read.
 */
export function checkPinnedKeys(
  published: ReadonlyArray<{ key_id: string; not_after?: string | null }>,
  profiles: ReadonlyArray<{ name: string; pinned: readonly string[] | null }>,
): Check {
  const current = published.filter((k) => !k.not_after).map((k) => k.key_id);
  if (current.length === 0)
    return pass("cite-keys", "cite keys: the data service has published none yet (it pins them when it first starts)");
  const stale = profiles.filter((p) => !p.pinned || !current.every((id) => p.pinned?.includes(id))).map((p) => p.name);
  const what = `cite keys: ${profiles.length - stale.length} of ${profiles.length} profiles pin the current key ${current.join(", ")}`;
  if (stale.length === 0) return pass("cite-keys", what);
  return bad(
    "cite-keys",
    "warn",
    `${what}; not: ${stale.slice(0, 10).join(", ")}${stale.length > 10 ? ` (+${stale.length - 10})` : ""}`,
    "these profiles refuse every cite the data service signs now: their market-data answers fail",
    "hermes-admin mcp up (re-pins the key set into every profile; no restart)",
  );
}

export function checkSandbox(description: string): Check {
  if (!/NOT limited|RLIMIT_NPROC only/.test(description)) return pass("cgroups", description);
  return bad(
    "cgroups",
    "warn",
    description,
    "prefab profiles run without cgroup memory/CPU limits on this host",
    "run the daemon as root on a host with cgroups v2 (or v1) mounted at /sys/fs/cgroup",
  );
}

export function checkRegistry(f: { backend: string; ok: boolean; detail: string }): Check {
  if (f.ok) return pass("registry", `registry (${f.backend}): ${f.detail}`);
  return bad(
    "registry",
    "fail",
    `registry (${f.backend}): ${f.detail}`,
    "profile rows are the fleet's source of truth",
    f.backend === "sqlite"
      ? "stop the daemon, copy ops/profiles.db aside, then `sqlite3 ops/profiles.db .recover` into a new file"
      : "check the PostgreSQL server and FLEET_DB_URL",
  );
}

export interface DoctorSummary {
  pass: number;
  warn: number;
  fail: number;
  ok: boolean;
}

export function summarize(checks: readonly Check[]): DoctorSummary {
  const n = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  return { pass: n("pass"), warn: n("warn"), fail: n("fail"), ok: n("fail") === 0 };
}
