/** Admin API handlers for day-2 operations: backup, export, unfence, restore/import, the archive list, the backup key. */

import type { ProfileView } from "../contract/schemas.js";
import type { ProfileRow } from "../registry/types.js";
import type { BackupService } from "../service/backup.js";
import type { UpgradeService } from "../service/upgrade.js";
import type { Handlers } from "./mount.js";

export const DAY2_ROUTES = [
  "backupProfile",
  "exportProfile",
  "unfenceProfile",
  "restoreProfile",
  "listBackups",
  "backupKey",
  "upgradeFleet",
  "rolloutStatus",
  "rolloutAbort",
  "rolloutResume",
] as const;
export type Day2Handlers = Pick<Handlers, (typeof DAY2_ROUTES)[number]>;

export interface Day2Deps {
  backups: BackupService;
  upgrades: UpgradeService;
  view: (row: ProfileRow) => ProfileView;
}

export function day2Handlers(d: Day2Deps): Day2Handlers {
  return {
    backupProfile: ({ params, body, actor, progress }) =>
      d.backups.backup(params.name, { out: body.out, to: body.to, actor }, progress),
    exportProfile: ({ params, body, actor, progress }) =>
      d.backups.export(params.name, { out: body.out, to: body.to, actor }, progress),
    unfenceProfile: ({ params, actor }) => d.backups.unfence(params.name, actor),
    restoreProfile: {
      run: async ({ body, actor, progress }) => {
        const r = await d.backups.restore(
          body.file,
          { as: body.as, tier: body.tier, rotateSecrets: body.rotate_secrets, force: body.force, actor },
          progress,
        );
        return { ...r, profile: d.view(r.profile) };
      },
      status: () => 201,
    },
    listBackups: async ({ query }) => ({ backups: await d.backups.list(query.profile) }),
    upgradeFleet: ({ body, actor, progress }) =>
      d.upgrades.upgrade(
        {
          to: body.to,
          canary: body.canary,
          maxUnavailable: body.max_unavailable,
          gateTimeoutMs: body.gate_timeout_ms,
          pauseOnFailure: body.pause_on_failure,
          actor,
        },
        progress,
      ),
    rolloutStatus: async () => d.upgrades.status(),
    rolloutAbort: async ({ actor }) => d.upgrades.abort(actor),
    rolloutResume: ({ actor, progress }) => d.upgrades.resume(actor, progress),
    backupKey: async () => {
      const k = await d.backups.key();
      return { recipient: k.recipient, file: k.file };
    },
  };
}
