/**
 * Registers each profile's data-service token with the data service: `<MCP_DATA_DIR>/tokens.json` maps the SHA-256 of a
 * token to its profile (never the token itself). Written atomically; the data service reloads it when its mtime changes.
 */
import { chown, copyFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Conflict, Precondition, sha256Hex } from "@twilight/core";

interface TokensFile {
  version: 1;
  tokens: Record<string, { profile: string; issued_at: string }>;
}

export class McpTokenFile {
  private queue: Promise<unknown> = Promise.resolve();
  /** `owner`: the data service's uid/gid, which must read the file (it runs as its own user, never root). */
  constructor(
    private readonly dataDir: string,
    private readonly owner?: { uid: number; gid: number },
  ) {}

  get path(): string {
    return join(this.dataDir, "tokens.json");
  }

  /** The file as it is; absent is empty, but a file that does not parse is refused (never read as empty). */
  private async read(): Promise<TokensFile> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, tokens: Object.create(null) };
      throw e;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw this.corrupt(`it is not JSON (${(e as Error).message})`);
    }
    const f = parsed as Partial<TokensFile>;
    if (f?.version !== 1 || typeof f.tokens !== "object" || f.tokens === null || Array.isArray(f.tokens))
      throw this.corrupt("it is not a version 1 tokens file");
    const tokens: TokensFile["tokens"] = Object.create(null);
    const owners = new Map<string, string>();
    for (const [h, v] of Object.entries(f.tokens)) {
      if (!/^[0-9a-f]{64}$/.test(h) || typeof v?.profile !== "string") throw this.corrupt(`entry ${h.slice(0, 12)} is malformed`);
      if (owners.has(v.profile)) throw this.corrupt(`profile ${v.profile} has two tokens`);
      owners.set(v.profile, h);
      tokens[h] = v;
    }
    return { version: 1, tokens };
  }

  private corrupt(why: string): Precondition {
    return new Precondition(`the data-service token file ${this.path} cannot be used: ${why}; refusing to rewrite it`, {
      hint: `restore it from ${this.path}.prev (the copy kept before the last change) or fix it by hand; every profile's token must stay registered`,
    });
  }

  /** Atomic replace; the previous version is kept as tokens.json.prev. */
  private async write(f: TokensFile): Promise<void> {
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(f, null, 2)}\n`, { mode: 0o600, flag: "w" });
    if (this.owner) await chown(tmp, this.owner.uid, this.owner.gid);
    await copyFile(this.path, `${this.path}.prev`).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    await rename(tmp, this.path);
  }

  /** Serialise read-modify-write cycles within this process. */
  private edit(fn: (f: TokensFile) => void): Promise<void> {
    const next = this.queue.then(async () => {
      const f = await this.read();
      fn(f);
      await this.write(f);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Register `token` for `profile`, replacing any earlier token of that profile. */
  set(profile: string, token: string): Promise<void> {
    return this.edit((f) => {
      const h = sha256Hex(token);
      const owner = f.tokens[h]?.profile;
      if (owner !== undefined && owner !== profile)
        throw new Conflict(`this data-service token already belongs to another profile`, {
          hint: "tokens are generated per profile; a token can belong to one profile only",
        });
      for (const [k, v] of Object.entries(f.tokens)) if (v.profile === profile) delete f.tokens[k];
      f.tokens[h] = { profile, issued_at: new Date().toISOString() };
    });
  }

  revoke(profile: string): Promise<void> {
    return this.edit((f) => {
      for (const [h, v] of Object.entries(f.tokens)) if (v.profile === profile) delete f.tokens[h];
    });
  }

  async profiles(): Promise<string[]> {
    return Object.values((await this.read()).tokens).map((v) => v.profile);
  }
}
