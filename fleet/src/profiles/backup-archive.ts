/**
 * The backup archive format (`twilight-profile-backup/1`): a tar stream of `manifest.json`, `secrets.json` (the
 * profile's secrets, by the template's schema), `fleet/<file>` (the profile's own SOUL.md, AGENTS.md) and
 * `tenant/<dir>/<path>` (the tenant's files, `tenant/data/state.db` an online SQLite snapshot), encrypted as one age
 * file (X25519 recipients, ChaCha20-Poly1305 payload: https://age-encryption.org/v1). Nothing inside is readable or
 * changeable without the identity: a flipped byte fails the payload's authentication, and every entry must match the
 * manifest's SHA-256, size and path rules before anything is written.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { DomainError } from "@twilight/core";
import { Decrypter, Encrypter } from "age-encryption";
import { extract, pack } from "tar-stream";
import { TENANT_DIRS } from "./layout.js";

export const ARCHIVE_FORMAT = "twilight-profile-backup/1";
/** Names of the profile's own fleet files kept in an archive (the rest is re-rendered at restore). */
export const ARCHIVED_FLEET_FILES = ["SOUL.md", "AGENTS.md"] as const;
export const MAX_ARCHIVE_BYTES = 2 * 1024 * 1024 * 1024 - 1;

export interface ManifestFile {
  sha256: string;
  size: number;
  mode: number;
}

export interface Manifest {
  format: typeof ARCHIVE_FORMAT;
  kind: "backup" | "export";
  profile: string;
  tier: string;
  plan: string | null;
  user_id: string | null;
  generation: number;
  runtime_version: string;
  image: string | null;
  created_at: string;
  /** Every entry but the manifest itself, by its path in the archive. */
  files: Record<string, ManifestFile>;
  /** What the walk left out and why (links, devices, files of another owner). */
  skipped: Array<{ path: string; reason: string }>;
}

export interface ArchiveContents {
  manifest: Manifest;
  entries: Map<string, Buffer>;
}

/** An archive that cannot be used: not decryptable with this fleet's key, modified, or not our format. */
export class ArchiveRejected extends DomainError {
  constructor(file: string, why: string, hint?: string) {
    super("INPUT_INVALID", `refusing backup archive ${file}: ${why}`, {
      hint:
        hint ??
        "nothing was restored. Use an unmodified copy of the archive (`hermes-admin backups` lists this host's); an archive from another fleet must be exported to this fleet's key (`hermes-admin backup-key` here, then `hermes-admin export NAME --to <recipient>` there)",
      details: { archive: file },
    });
  }
}

export function sha256(b: Buffer | Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Where an archive entry may point: `manifest.json`, `secrets.json`, `fleet/<known file>`, `tenant/<tenant dir>/...`. */
export function entryPathOk(p: string): boolean {
  if (p === "manifest.json" || p === "secrets.json") return true;
  if (p.length > 4096 || p.includes("\0") || p.includes("\\")) return false;
  const parts = p.split("/");
  if (parts.some((s) => s === "" || s === "." || s === "..")) return false;
  if (parts[0] === "fleet") return parts.length === 2 && (ARCHIVED_FLEET_FILES as readonly string[]).includes(parts[1] as string);
  return parts[0] === "tenant" && parts.length >= 3 && (TENANT_DIRS as readonly string[]).includes(parts[1] as string);
}

/** Build the plaintext tar: the manifest (with every entry's checksum) first, then the entries. */
export async function packArchive(
  meta: Omit<Manifest, "files" | "format">,
  entries: Map<string, { data: Buffer; mode: number }>,
) {
  const files: Record<string, ManifestFile> = {};
  for (const [p, e] of entries) {
    if (!entryPathOk(p)) throw new Error(`internal: archive path ${p} is not allowed`);
    files[p] = { sha256: sha256(e.data), size: e.data.length, mode: e.mode & 0o777 };
  }
  const manifest: Manifest = { format: ARCHIVE_FORMAT, ...meta, files };
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on("data", (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    tar.on("end", resolve);
    tar.on("error", reject);
  });
  tar.entry({ name: "manifest.json", mode: 0o600 }, Buffer.from(JSON.stringify(manifest, null, 1)));
  for (const [p, e] of entries) tar.entry({ name: p, mode: e.mode & 0o777 }, e.data);
  tar.finalize();
  await done;
  return { manifest, tar: Buffer.concat(chunks) };
}

export async function encryptArchive(plain: Buffer, recipients: readonly string[]): Promise<Uint8Array> {
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return await e.encrypt(new Uint8Array(plain.buffer, plain.byteOffset, plain.length));
}

/** Decrypt, unpack and check an archive; throws ArchiveRejected (naming why) before the caller writes anything. */
export async function openArchive(file: string, bytes: Uint8Array, identity: string): Promise<ArchiveContents> {
  let plain: Uint8Array;
  try {
    const d = new Decrypter();
    d.addIdentity(identity);
    plain = await d.decrypt(bytes);
  } catch (e) {
    const msg = (e as Error).message;
    if (/no identity matched/i.test(msg))
      throw new ArchiveRejected(
        file,
        "it is not encrypted to this fleet's backup key",
        "export it again to this fleet's recipient (`hermes-admin backup-key` prints it), or restore on the fleet that made it",
      );
    throw new ArchiveRejected(file, `it does not decrypt (${msg}): it was modified, truncated or is not a backup`);
  }
  const entries = new Map<string, Buffer>();
  try {
    const ex = extract();
    const fed = Readable.from([Buffer.from(plain.buffer, plain.byteOffset, plain.length)]).pipe(ex);
    for await (const entry of fed) {
      const name = entry.header.name;
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      if (entry.header.type !== "file" || !entryPathOk(name) || entries.has(name))
        throw new ArchiveRejected(file, `entry ${JSON.stringify(name)} is not allowed in a profile backup`);
      entries.set(name, Buffer.concat(chunks));
    }
  } catch (e) {
    if (e instanceof ArchiveRejected) throw e;
    throw new ArchiveRejected(file, `its contents are not a tar stream (${(e as Error).message})`);
  }
  const raw = entries.get("manifest.json");
  if (!raw) throw new ArchiveRejected(file, "it has no manifest.json");
  entries.delete("manifest.json");
  let manifest: Manifest;
  try {
    manifest = JSON.parse(raw.toString("utf8")) as Manifest;
  } catch {
    throw new ArchiveRejected(file, "its manifest is not JSON");
  }
  if (manifest?.format !== ARCHIVE_FORMAT)
    throw new ArchiveRejected(file, `format ${JSON.stringify(manifest?.format)} is not ${ARCHIVE_FORMAT}`);
  const listed = Object.keys(manifest.files ?? {});
  for (const p of listed) {
    const e = entries.get(p);
    const want = manifest.files[p] as ManifestFile;
    if (!e) throw new ArchiveRejected(file, `${p} is in the manifest but not in the archive`);
    if (e.length !== want.size || sha256(e) !== want.sha256) throw new ArchiveRejected(file, `${p} does not match its checksum`);
  }
  for (const p of entries.keys())
    if (!Object.hasOwn(manifest.files, p)) throw new ArchiveRejected(file, `${p} is not in the manifest`);
  return { manifest, entries };
}
