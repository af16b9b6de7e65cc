/**
 * Registers each profile's data-service token with the data service: `<MCP_DATA_DIR>/tokens.json` maps the SHA-256 of a
 * token to its profile (never the token itself). Written atomically; the data service reloads it when its mtime changes.
 * The file mechanism (refuse a corrupt file, keep `.prev`, one token per profile) is hashed-key-file.ts.
 */
import { HashedKeyFile } from "./hashed-key-file.js";

export class McpTokenFile {
  private readonly file: HashedKeyFile;

  /** `owner`: the data service's uid/gid, which must read the file (it runs as its own user, never root). */
  constructor(dataDir: string, owner?: { uid: number; gid: number }) {
    this.file = new HashedKeyFile({
      dataDir,
      fileName: "tokens.json",
      field: "tokens",
      label: "the data-service token file",
      corruptHint: (path) =>
        `restore it from ${path}.prev (the copy kept before the last change) or fix it by hand; every profile's token must stay registered`,
      taken: {
        message: "this data-service token already belongs to another profile",
        hint: "tokens are generated per profile; a token can belong to one profile only",
      },
      owner,
      onePerProfile: { what: "tokens" },
    });
  }

  get path(): string {
    return this.file.path;
  }

  /** Register `token` for `profile`, replacing any earlier token of that profile. */
  set(profile: string, token: string): Promise<void> {
    return this.file.set(profile, token);
  }

  revoke(profile: string): Promise<void> {
    return this.file.revoke(profile);
  }

  profiles(): Promise<string[]> {
    return this.file.profiles();
  }
}
