/**
 * Child process of a backup, run as the profile's own uid (never root): an online SQLite backup of the tenant's
 * state.db (consistent while the runtime writes; not a file copy), written to stdout. Running as the tenant means a
 * link planted at state.db can only reach what the tenant could read anyway.
 *   node sqlite-snapshot.js <state.db> <scratch dir>
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";

async function main(): Promise<void> {
  const [src, scratch] = process.argv.slice(2);
  if (!src || !scratch) throw new Error("usage: sqlite-snapshot <state.db> <scratch dir>");
  const tmp = join(scratch, `.twl-snapshot-${process.pid}-${Date.now()}.db`);
  const db = new Database(src, { readonly: true, fileMustExist: true, timeout: 10_000 });
  try {
    await db.backup(tmp);
  } finally {
    db.close();
  }
  try {
    process.stdout.write(readFileSync(tmp));
  } finally {
    rmSync(tmp, { force: true });
  }
}

main().catch((e: Error) => {
  process.stderr.write(`sqlite-snapshot: ${e.message}\n`);
  process.exitCode = 1;
});
