/** The admin token: random, in a 0600 file under ops/, created by the daemon on first start, read by the CLI. */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Unauthorized } from "@twilight/core";

export function ensureAdminToken(file: string): string {
  try {
    const t = readFileSync(file, "utf8").trim();
    if (t.length >= 32) return t;
  } catch {
    /* create below */
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const token = `fa_${randomBytes(32).toString("base64url")}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "w" });
  return token;
}

export function readAdminToken(file: string): string {
  try {
    const st = statSync(file);
    if ((st.mode & 0o077) !== 0)
      throw new Unauthorized(`${file} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, `chmod 600 ${file}`);
    return readFileSync(file, "utf8").trim();
  } catch (e) {
    if (e instanceof Unauthorized) throw e;
    throw new Unauthorized(
      `cannot read the admin token at ${file}`,
      "start the daemon first (hermes-admin up) and run as the same user",
    );
  }
}
