/** The one writer of the audit trail (`profile_events`): one shape for every actor, also logged (never a secret). */
import { randomUUID } from "node:crypto";
import type { FleetContext } from "./context.js";

export interface AuditEntry {
  /** The profile, or "fleet" for host-wide actions. */
  profile: string;
  /** Who: `cli:<user>`, `api`, `supervisor`, `billing:<key id>`, ... */
  actor: string;
  action: string;
  result: "ok" | "error" | "info";
  detail?: Record<string, unknown>;
}

export async function audit(ctx: Pick<FleetContext, "registry" | "log">, e: AuditEntry): Promise<void> {
  const detail = { ...(e.detail ?? {}), op: randomUUID().slice(0, 8) };
  ctx.log.info({ audit: { profile: e.profile, actor: e.actor, action: e.action, result: e.result } }, "audit");
  await ctx.registry.addEvent({ profile: e.profile, actor: e.actor, action: e.action, result: e.result, detail });
}
