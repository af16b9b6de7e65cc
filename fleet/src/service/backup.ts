/**
 * Day-2 operations on one profile: backup (an encrypted, authenticated archive: profiles/backup-archive.ts), restore
 * under the same or a new name on either tier, export (a backup, then the source is stopped and fenced) and import.
 * Archives live in `ops/backups/` (0700; files 0600) unless the operator names another file.
 */
import { constants } from "node:fs";
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { assertProfileName, Conflict, InputInvalid, isTier, NotFound, TIERS, type Tier } from "@twilight/core";
import { projectVersion } from "../images/refs.js";
import { readNoFollow, writeNoFollow } from "../lib/safe-fs.js";
import {
  ARCHIVED_FLEET_FILES,
  ArchiveRejected,
  encryptArchive,
  MAX_ARCHIVE_BYTES,
  type Manifest,
  openArchive,
  packArchive,
  sha256,
} from "../profiles/backup-archive.js";
import { collectTenantFiles, renameSessions, snapshotStateDb } from "../profiles/backup-collect.js";
import { BACKUP_KEY_FILE, ensureBackupKey, RECIPIENT } from "../profiles/backup-key.js";
import { readFence, removeFence, writeFence } from "../profiles/fence.js";
import { FLEET_FILE_MODE, readProfileEnv } from "../profiles/layout.js";
import { buildSecrets, parseSecretsSchema } from "../template/secrets.js";
import { audit } from "../workload/audit.js";
import { type FleetContext, type KeyedMutex, noProgress, type Progress } from "../workload/context.js";
import { isDue, toPrune } from "./backup-schedule.js";
import type { ProfileService } from "./profiles.js";

export const BACKUPS_DIR = "backups";
/**
 * Secrets that name the profile to a platform service (the data service's token, the model gateway's virtual key):
 * never carried to a second name, since each service maps one key to one profile and the source may still hold it.
 */
const IDENTITY_SECRETS = ["MCP_TUSHARE_TOKEN", "SILICONFLOW_API_KEY"];
const ARCHIVE_FILE = /^([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)@(\d{8}T\d{6}Z)(?:-(\d+))?\.age$/;

export interface BackupOptions {
  /** Absolute path of the archive to write (never overwritten); default `ops/backups/<name>@<stamp>.age`. */
  out?: string;
  /** More age recipients (e.g. another fleet's, for an export); this fleet's own key is always one. */
  to?: string[];
  actor: string;
}

export interface BackupResult {
  profile: string;
  file: string;
  bytes: number;
  sha256: string;
  files: number;
  skipped: Array<{ path: string; reason: string }>;
  state_db_bytes: number;
  ms: number;
}

export interface RestoreOptions {
  as?: string;
  tier?: string;
  rotateSecrets?: boolean;
  /** Restore over an existing profile: it is backed up first, then removed (its directory kept as an archive). */
  force?: boolean;
  actor: string;
}

export class BackupService {
  constructor(
    private readonly ctx: FleetContext,
    private readonly mutex: KeyedMutex,
    private readonly profiles: ProfileService,
  ) {}

  get dir(): string {
    return join(this.ctx.cfg.opsDir, BACKUPS_DIR);
  }

  key() {
    return ensureBackupKey(join(this.ctx.cfg.opsDir, BACKUP_KEY_FILE));
  }

  async backup(name: string, o: BackupOptions, progress: Progress = noProgress): Promise<BackupResult> {
    await this.profiles.get(name); // a clear NotFound before anything is written
    return await this.mutex.run(name, () => this.backupLocked(name, "backup", o, progress));
  }

  private async backupLocked(name: string, kind: Manifest["kind"], o: BackupOptions, progress: Progress) {
    const t0 = performance.now();
    const row = await this.profiles.get(name);
    const recipients = await this.recipients(o.to);
    const dir = row.profile_path;
    progress("snapshot", { what: "state.db (online SQLite backup, as the profile's uid)" });
    const db = await snapshotStateDb(dir, { uid: row.uid, gid: row.gid });
    progress("files", { dir });
    const tenant = await collectTenantFiles(dir, row.uid);
    const entries = new Map<string, { data: Buffer; mode: number }>();
    const env = await readProfileEnv(dir, row.uid);
    const schema = parseSecretsSchema(JSON.parse(await readFile(join(this.ctx.cfg.templateDir, "secrets.schema.json"), "utf8")));
    const secrets = Object.fromEntries(Object.keys(schema.secrets).flatMap((k) => (env[k] ? [[k, env[k]]] : [])));
    entries.set("secrets.json", { data: Buffer.from(JSON.stringify(secrets)), mode: 0o600 });
    for (const f of ARCHIVED_FLEET_FILES) {
      const text = await readNoFollow(join(dir, f), { owners: [0], maxBytes: 1 << 20 }).catch(() => undefined);
      if (text !== undefined) entries.set(`fleet/${f}`, { data: Buffer.from(text), mode: FLEET_FILE_MODE });
    }
    for (const [p, e] of tenant.files) entries.set(p, e);
    if (db) entries.set("tenant/data/state.db", { data: db, mode: 0o600 });
    const { tar } = await packArchive(
      {
        kind,
        profile: row.name,
        tier: row.tier,
        plan: row.plan,
        user_id: row.user_id,
        generation: row.generation,
        runtime_version: row.image ?? `prefab@${await projectVersion(this.ctx.cfg.appDir)}`,
        image: row.image,
        created_at: new Date(this.ctx.now()).toISOString(),
        skipped: tenant.skipped,
      },
      entries,
    );
    progress("encrypt", { recipients: recipients.length, plain_bytes: tar.length });
    const sealed = await encryptArchive(tar, recipients);
    const file = o.out ?? (await this.defaultFile(name));
    await writeExclusive(file, sealed);
    const result: BackupResult = {
      profile: name,
      file,
      bytes: sealed.length,
      sha256: sha256(sealed),
      files: entries.size,
      skipped: tenant.skipped,
      state_db_bytes: db?.length ?? 0,
      ms: Math.round(performance.now() - t0),
    };
    await audit(this.ctx, {
      profile: name,
      actor: o.actor,
      action: kind,
      result: "ok",
      detail: { file, bytes: result.bytes, sha256: result.sha256, files: result.files, skipped: tenant.skipped.length },
    });
    return result;
  }

  /** Backup, then stop the source and fence it (it refuses to start until `unfence`). */
  async export(name: string, o: BackupOptions, progress: Progress = noProgress): Promise<BackupResult & { fenced: true }> {
    await this.profiles.get(name);
    const r = await this.mutex.run(name, () => this.backupLocked(name, "export", o, progress));
    progress("fence", { profile: name });
    const row = await this.profiles.get(name);
    await writeFence(row.profile_path, row.gid, {
      exported_at: new Date(this.ctx.now()).toISOString(),
      archive: r.file,
      actor: o.actor,
    });
    await this.profiles.stop(name, o.actor, progress);
    await this.ctx.registry.update(name, { last_error: `exported to ${r.file}; fenced (hermes-admin unfence ${name})` });
    return { ...r, fenced: true };
  }

  async unfence(name: string, actor: string): Promise<{ profile: string; unfenced: boolean }> {
    const row = await this.profiles.get(name);
    const unfenced = await this.mutex.run(name, () => removeFence(row.profile_path));
    if (unfenced) await this.ctx.registry.update(name, { last_error: null });
    await audit(this.ctx, { profile: name, actor, action: "unfence", result: "ok", detail: { was_fenced: unfenced } });
    return { profile: name, unfenced };
  }

  async fenced(name: string) {
    return await readFence((await this.profiles.get(name)).profile_path);
  }

  async restore(file: string, o: RestoreOptions, progress: Progress = noProgress) {
    const t0 = performance.now();
    if (!isAbsolute(file)) throw new InputInvalid(`archive path ${file} must be absolute`);
    const bytes = await readArchive(file);
    const key = await this.key();
    progress("verify", { bytes: bytes.length });
    const { manifest, entries } = await openArchive(file, bytes, key.identity);
    const name = assertProfileName(o.as ?? manifest.profile);
    const tierName = o.tier ?? manifest.tier;
    if (!isTier(tierName)) throw new InputInvalid(`tier ${JSON.stringify(tierName)} is not one of ${TIERS.join(", ")}`);
    const tier: Tier = tierName;
    const schema = parseSecretsSchema(JSON.parse(await readFile(join(this.ctx.cfg.templateDir, "secrets.schema.json"), "utf8")));
    const archived = JSON.parse(entries.get("secrets.json")?.toString("utf8") ?? "{}") as Record<string, string>;
    // --rotate-secrets keeps only what the user supplied; under a new name the identity secrets are always new
    const keep = Object.fromEntries(
      Object.entries(archived).filter(([k]) =>
        o.rotateSecrets ? schema.secrets[k]?.kind === "supplied" : name === manifest.profile || !IDENTITY_SECRETS.includes(k),
      ),
    );
    let secrets: Record<string, string>;
    try {
      secrets = buildSecrets(schema, keep); // archived values are checked like supplied ones
    } catch (e) {
      throw new ArchiveRejected(file, `its secrets do not fit this fleet's template (${(e as Error).message})`);
    }
    if (await this.ctx.registry.get(name)) {
      if (!o.force)
        throw new Conflict(`profile ${name} exists`, {
          hint: `restore under another name (--as NAME), or pass --force to back ${name} up, remove it and restore over it`,
        });
      progress("backup-existing", { profile: name });
      const prior = await this.backup(name, { actor: o.actor }, progress);
      progress("remove-existing", { profile: name, backup: prior.file });
      await this.profiles.remove(name, { force: true, purge: false, actor: o.actor });
    }
    const action = manifest.kind === "export" ? "import" : "restore";
    const populate = async (staging: string, owner: { uid: number; gid: number }) => {
      for (const [p, data] of entries) {
        if (p.startsWith("fleet/")) {
          await writeNoFollow(staging, p.slice("fleet/".length), data.toString("utf8"), {
            uid: 0,
            gid: owner.gid,
            mode: FLEET_FILE_MODE,
          });
        } else if (p.startsWith("tenant/")) {
          const target = join(staging, p.slice("tenant/".length));
          await mkdir(dirname(target), { recursive: true, mode: 0o700 });
          await rm(target, { force: true });
          await writeFile(target, data, { flag: "wx", mode: (manifest.files[p]?.mode ?? 0o600) & 0o700 });
        }
      }
      if (name !== manifest.profile && entries.has("tenant/data/state.db"))
        progress("sessions", { renamed: renameSessions(join(staging, "data", "state.db"), manifest.profile, name), to: name });
    };
    progress("create", { profile: name, tier, from: manifest.profile });
    const row = await this.profiles.createFrom(
      { name, tier, plan: manifest.plan, userId: manifest.user_id, secrets, populate, action, actor: o.actor },
      progress,
    );
    await audit(this.ctx, {
      profile: name,
      actor: o.actor,
      action: `${action}-from`,
      result: "ok",
      detail: { archive: file, from: manifest.profile, created_at: manifest.created_at, rotated: Boolean(o.rotateSecrets) },
    });
    return {
      profile: row,
      from: manifest.profile,
      archive: file,
      kind: manifest.kind,
      files: Object.keys(manifest.files).length,
      rotated_secrets: Boolean(o.rotateSecrets),
      ms: Math.round(performance.now() - t0),
    };
  }

  /** One scheduler tick: back up every running, unfenced profile whose plan says it is due; prune past retention. */
  async scheduled(progress: Progress = noProgress): Promise<{ backed_up: string[]; pruned: string[]; failed: string[] }> {
    const out = { backed_up: [] as string[], pruned: [] as string[], failed: [] as string[] };
    for (const row of await this.profiles.list()) {
      if (row.desired_state !== "running" || (await readFence(row.profile_path).catch(() => undefined))) continue;
      const mine = await this.list(row.name);
      if (isDue(row.plan, mine[0]?.created_at, this.ctx.now())) {
        try {
          const b = await this.backup(row.name, { actor: "scheduler" }, progress);
          mine.unshift({ file: b.file, profile: row.name, created_at: new Date(this.ctx.now()).toISOString(), bytes: b.bytes });
          out.backed_up.push(row.name);
        } catch (e) {
          out.failed.push(row.name);
          await audit(this.ctx, {
            profile: row.name,
            actor: "scheduler",
            action: "backup",
            result: "error",
            detail: { error: (e as Error).message },
          });
        }
      }
      for (const f of toPrune(row.plan, mine)) {
        await rm(f, { force: true });
        out.pruned.push(f);
      }
    }
    return out;
  }

  /** Archives in ops/backups/, newest first. */
  async list(profile?: string) {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const out: Array<{ file: string; profile: string; created_at: string; bytes: number }> = [];
    for (const n of names) {
      const m = ARCHIVE_FILE.exec(n);
      if (!m || (profile && m[1] !== profile)) continue;
      const st = await stat(join(this.dir, n)).catch(() => undefined);
      if (!st?.isFile()) continue;
      const s = m[2] as string;
      const at = `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}Z`;
      out.push({ file: join(this.dir, n), profile: m[1] as string, created_at: at, bytes: st.size });
    }
    return out.sort((a, b) => b.created_at.localeCompare(a.created_at) || b.file.localeCompare(a.file));
  }

  private async recipients(extra: string[] = []): Promise<string[]> {
    for (const r of extra)
      if (!RECIPIENT.test(r))
        throw new InputInvalid(`recipient ${JSON.stringify(r)} is not an age X25519 recipient (age1...)`, {
          hint: "on the target fleet, `hermes-admin backup-key` prints its recipient",
        });
    return [...new Set([(await this.key()).recipient, ...extra])];
  }

  private async defaultFile(name: string): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const stamp = new Date(this.ctx.now())
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    for (let i = 0; i < 100; i++) {
      const f = join(this.dir, `${name}@${stamp}${i ? `-${i}` : ""}.age`);
      if (!(await stat(f).catch(() => undefined))) return f;
    }
    throw new Conflict(`too many backups of ${name} in one second`);
  }
}

/** Create the archive file (0600, never overwriting, never through a link). */
async function writeExclusive(file: string, data: Uint8Array): Promise<void> {
  if (!isAbsolute(file)) throw new InputInvalid(`--out ${file} must be an absolute path`);
  const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
  const fh = await open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "EEXIST") throw new Conflict(`${file} exists`, { hint: "name a new file; a backup never overwrites one" });
    if (e.code === "ENOENT") throw new NotFound("directory", dirname(file), "create it first");
    throw e;
  });
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readArchive(file: string): Promise<Uint8Array> {
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) throw new NotFound("archive", file, "`hermes-admin backups` lists this host's archives");
  if (st.size > MAX_ARCHIVE_BYTES) throw new ArchiveRejected(file, `it is larger than ${MAX_ARCHIVE_BYTES} bytes`);
  return new Uint8Array(await readFile(file));
}
