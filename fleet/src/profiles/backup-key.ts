/**
 * The fleet's backup key: an age X25519 identity in `ops/backup-key` (root:root 0600, created on first use). Backups
 * are encrypted to its public recipient (plus any recipient the operator names, e.g. another host's for an export),
 * so an archive can be copied anywhere: only a holder of a matching identity can read it.
 */
import { constants } from "node:fs";
import { chmod, mkdir, open } from "node:fs/promises";
import { dirname } from "node:path";
import { Precondition } from "@twilight/core";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { readNoFollow } from "../lib/safe-fs.js";

export const BACKUP_KEY_FILE = "backup-key";
const IDENTITY = /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/;
export const RECIPIENT = /^age1[0-9a-z]{58}$/;

export interface BackupKey {
  identity: string;
  recipient: string;
  file: string;
}

/** Read the key, creating it (O_EXCL, 0600) when absent. A key file that is a link, not root's or unreadable is refused. */
export async function ensureBackupKey(file: string): Promise<BackupKey> {
  let text: string | undefined;
  try {
    text = await readNoFollow(file, { owners: [0], maxBytes: 4096 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  if (text === undefined) {
    const identity = await generateX25519Identity();
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
    const fh = await open(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600).catch(async (e) => {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return undefined; // another process made it first
      throw e;
    });
    if (fh) {
      try {
        await fh.writeFile(`# twilight fleet backup identity (age X25519); keep a copy off this host\n${identity}\n`);
        await fh.chmod(0o600);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    text = await readNoFollow(file, { owners: [0], maxBytes: 4096 });
  }
  await chmod(file, 0o600);
  const identity = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => IDENTITY.test(l));
  if (!identity)
    throw new Precondition(`${file} holds no age identity (AGE-SECRET-KEY-1...)`, {
      hint: "restore the key file from your off-host copy; without it existing backups cannot be read",
    });
  return { identity, recipient: await identityToRecipient(identity), file };
}
