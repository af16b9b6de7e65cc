/**
 * Registers each profile's virtual model key with the model gateway: `<gateway data dir>/keys.json` maps the SHA-256 of
 * the key (the profile's generated SILICONFLOW_API_KEY) to its profile and plan, never the key itself. Written
 * atomically (the previous version kept as keys.json.prev); the gateway re-reads it when its mtime changes, so a
 * revoked key is refused within a second. A file that does not parse is refused, never rewritten as empty. The file
 * mechanism is hashed-key-file.ts (shared with the data service's tokens).
 */
import type { Plan } from "@twilight/core";
import { HashedKeyFile } from "./hashed-key-file.js";

export class GatewayKeyFile {
  private readonly file: HashedKeyFile;

  /** `owner`: the gateway's uid/gid (it runs as its own user and must read the file and its directory). */
  constructor(dataDir: string, owner?: { uid: number; gid: number }) {
    this.file = new HashedKeyFile({
      dataDir,
      fileName: "keys.json",
      field: "keys",
      label: "the model gateway's key file",
      corruptHint: (path) => `restore it from ${path}.prev or fix it by hand`,
      taken: { message: "this model key already belongs to another profile", hint: "model keys are generated per profile" },
      owner,
      ownDir: true,
    });
  }

  get path(): string {
    return this.file.path;
  }

  /** Register `key` for `profile` on `plan`, replacing any earlier key of that profile (rotation). */
  set(profile: string, plan: Plan, key: string): Promise<void> {
    if (!key) return Promise.resolve();
    return this.file.set(profile, key, { plan });
  }

  revoke(profile: string): Promise<void> {
    return this.file.revoke(profile);
  }

  profiles(): Promise<string[]> {
    return this.file.profiles();
  }
}
