/** What billing writes on `hermes-admin provision --stdin` (the SSH transport): the same shapes as the HTTP routes. */
import { TIERS } from "@twilight/core/names";
import { PLANS } from "@twilight/core/plans";
import { z } from "zod/v4";
import { ProfileName } from "./schemas.js";

const Key = z.string().regex(/^[A-Za-z0-9_.:|*-]{1,64}$/);
/** What billing writes on stdin: a spawn (idempotent by its key), or a stop / delete at the end of a subscription. */
export const ProvisionRequest = z.union([
  z.strictObject({
    name: ProfileName,
    tier: z.enum(TIERS),
    plan: z.enum(PLANS).nullish(),
    user_id: z.string().max(128).nullish(),
    set: z.record(z.string(), z.string()).optional(),
    idempotency_key: Key.optional(),
  }),
  z.strictObject({ action: z.enum(["stop", "delete"]), name: ProfileName, idempotency_key: Key.optional() }),
]);
export type ProvisionRequest = z.infer<typeof ProvisionRequest>;
