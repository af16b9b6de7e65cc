/**
 * Registers each profile's data-service token with the data service: `<MCP_DATA_DIR>/tokens.json` maps the SHA-256 of a
 * token to its profile (never the token itself). Written atomically; the data service reloads it when its mtime changes.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { sha256Hex } from "@twilight/core";

interface TokensFile {
  version: 1;
  tokens: Record<string, { profile: string; issued_at: string }>;
}

export class McpTokenFile {
  private queue: Promise<unknown> = Promise.resolve();
  constructor(private readonly dataDir: string) {}

  get path(): string {
    return join(this.dataDir, "tokens.json");
  }

  private async read(): Promise<TokensFile> {
    try {
      const parsed = JSON.parse(await readFile(this.path, "utf8")) as TokensFile;
      return parsed.version === 1 && parsed.tokens ? parsed : { version: 1, tokens: {} };
    } catch {
      return { version: 1, tokens: {} };
    }
  }

  private async write(f: TokensFile): Promise<void> {
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(f, null, 2)}\n`, { mode: 0o600 });
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
      for (const [h, v] of Object.entries(f.tokens)) if (v.profile === profile) delete f.tokens[h];
      f.tokens[sha256Hex(token)] = { profile, issued_at: new Date().toISOString() };
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
