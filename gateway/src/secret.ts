/**
 * The upstream secret file (`UPSTREAM_BASE_URL`, `UPSTREAM_API_KEY`, .env syntax). It must not be readable by group or
 * others. Re-read when its mtime changes (checked at most once a second), so the operator rotates the upstream key by
 * rewriting the file: profiles are not touched and in-flight requests finish with the key they started with.
 */
import { readFileSync, statSync } from "node:fs";
import { ConfigInvalid, type Logger, parseEnv } from "@twilight/core";
import type { UpstreamSecret } from "./upstream.js";

export function readSecretFile(path: string): UpstreamSecret {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    throw new ConfigInvalid(`the gateway's upstream secret file ${path} is missing`, {
      hint: "write UPSTREAM_BASE_URL=... and UPSTREAM_API_KEY=... into it (mode 0600), e.g. with `hermes-admin gateway up --upstream-env FILE`",
    });
  }
  if ((Number(st.mode) & 0o077) !== 0)
    throw new ConfigInvalid(
      `the upstream secret file ${path} is readable by others (mode ${(Number(st.mode) & 0o777).toString(8)})`,
      {
        hint: `chmod 600 ${path}`,
      },
    );
  const env = parseEnv(readFileSync(path, "utf8"));
  const baseUrl = env.UPSTREAM_BASE_URL ?? "";
  const apiKey = env.UPSTREAM_API_KEY ?? "";
  if (!/^https?:\/\//.test(baseUrl)) throw new ConfigInvalid(`${path}: UPSTREAM_BASE_URL must be an http(s) URL`);
  if (!apiKey) throw new ConfigInvalid(`${path}: UPSTREAM_API_KEY is empty`);
  return { baseUrl, apiKey };
}

export class SecretFile {
  private current: UpstreamSecret;
  private mtimeMs: number;
  private checkedAt = Date.now();

  constructor(
    private readonly path: string,
    private readonly log?: Logger,
  ) {
    this.current = readSecretFile(path);
    this.mtimeMs = statSync(path).mtimeMs;
  }

  get(): UpstreamSecret {
    const now = Date.now();
    if (now - this.checkedAt < 1000) return this.current;
    this.checkedAt = now;
    try {
      const m = statSync(this.path).mtimeMs;
      if (m !== this.mtimeMs) {
        this.current = readSecretFile(this.path);
        this.mtimeMs = m;
        this.log?.info("upstream secret file re-read (key rotated)");
      }
    } catch (e) {
      this.log?.error({ why: (e as Error).message }, "upstream secret file refused; keeping the last good one");
    }
    return this.current;
  }
}
