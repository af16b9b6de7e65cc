/** Shapes of the day-2 routes (backup, restore, export/import, backup key): zod 4, like schemas.ts. */
import { z } from "zod/v4";
import { ProfileName, ProfileView, Tier } from "./schemas.js";

const AbsPath = z.string().min(2).max(4096).regex(/^\//, "an absolute path").describe("a path on the daemon's host");
const Recipient = z
  .string()
  .regex(/^age1[0-9a-z]{58}$/)
  .describe("an age X25519 recipient (age1...)");

export const BackupRequest = z.lazy(() =>
  z.strictObject({
    out: AbsPath.optional().describe("write the archive here (never overwritten); default ops/backups/<name>@<stamp>.age"),
    to: z.array(Recipient).max(16).optional().describe("more recipients besides this fleet's backup key"),
  }),
);
export const ExportRequest = z.lazy(() =>
  z.strictObject({
    out: AbsPath.optional(),
    to: z.array(Recipient).min(1).max(16).describe("the target fleet's recipient (`hermes-admin backup-key` there)"),
  }),
);
const Skipped = z.object({ path: z.string(), reason: z.string() });
export const BackupResult = z.lazy(() =>
  z.object({
    profile: z.string(),
    file: z.string(),
    bytes: z.number().int(),
    sha256: z.string(),
    files: z.number().int().describe("entries in the archive (secrets, fleet files, tenant files, state.db)"),
    skipped: z.array(Skipped).describe("left out: links (never followed), devices, files the profile does not own"),
    state_db_bytes: z.number().int(),
    ms: z.number(),
  }),
);
export const ExportResult = z.lazy(() => BackupResult.unwrap().extend({ fenced: z.literal(true) }));

export const RestoreRequest = z.lazy(() =>
  z.strictObject({
    file: AbsPath,
    as: ProfileName.optional().describe("restore under this name (default: the archived profile's)"),
    tier: Tier.optional().describe("run it on this tier (default: the archived tier)"),
    rotate_secrets: z.boolean().optional().describe("generate new secrets instead of the archived ones"),
    force: z.boolean().optional().describe("restore over an existing profile: it is backed up and removed first"),
  }),
);
export const RestoreResult = z.lazy(() =>
  z.object({
    profile: ProfileView,
    from: z.string(),
    archive: z.string(),
    kind: z.enum(["backup", "export"]),
    files: z.number().int(),
    rotated_secrets: z.boolean(),
    ms: z.number(),
  }),
);

export const BackupsQuery = z.lazy(() => z.object({ profile: ProfileName.optional() }));
export const BackupList = z.lazy(() =>
  z.object({
    backups: z.array(z.object({ file: z.string(), profile: z.string(), created_at: z.string(), bytes: z.number().int() })),
  }),
);
export const BackupKeyInfo = z.lazy(() =>
  z.object({
    recipient: z.string().describe("encrypt to this (give it to the fleet that exports to this one)"),
    file: z.string().describe("the identity file, root-only 0600; keep a copy off this host"),
  }),
);
export const UnfenceResult = z.lazy(() => z.object({ profile: z.string(), unfenced: z.boolean() }));

export const UpgradeRequest = z.lazy(() =>
  z.strictObject({
    to: z
      .string()
      .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/)
      .describe("the runtime version: a tag of the fleet's profile image"),
    canary: z.number().int().min(1).max(50).optional().describe("profiles upgraded and gated first (default 1)"),
    max_unavailable: z
      .number()
      .int()
      .min(1)
      .max(50)
      .optional()
      .describe("profiles switched at once after the canaries (default 1)"),
    gate_timeout_ms: z.number().int().min(1000).max(600_000).optional(),
    pause_on_failure: z
      .boolean()
      .optional()
      .describe("a failed gate pauses the rollout (failed profiles go back, upgraded ones stay) instead of rolling back"),
  }),
);
export const UpgradeResult = z.lazy(() =>
  z.object({
    to: z.string(),
    image: z.string(),
    outcome: z.enum(["completed", "rolled-back", "paused", "noop"]),
    canary: z.array(z.string()),
    upgraded: z.array(z.string()),
    rolled_back: z.array(z.string()),
    skipped: z.array(z.object({ profile: z.string(), reason: z.string() })),
    failed: z.object({ profile: z.string(), step: z.string(), error: z.string() }).optional(),
    ms: z.number(),
  }),
);

export const RolloutStatus = z.lazy(() =>
  z.object({
    running: z.boolean(),
    paused: z.boolean().optional().describe("stopped at a failed gate: hermes-admin rollout resume | abort"),
    failed: z.object({ profile: z.string(), step: z.string(), error: z.string() }).optional(),
    to: z.string().optional(),
    image: z.string().optional(),
    started_at: z.string().optional(),
    current: z.string().nullable().optional().describe("the profile being switched now"),
    upgraded: z.array(z.string()).optional(),
    remaining: z.array(z.string()).optional(),
    aborting: z.boolean().optional(),
    last: UpgradeResult.optional().describe("the last finished rollout of this daemon"),
  }),
);
export const RolloutAbort = z.lazy(() => z.object({ aborting: z.boolean(), message: z.string() }));
