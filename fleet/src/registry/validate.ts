/**
 * Input checks of the registry, shared by both backends: what the database constraints also enforce, said earlier and
 * more clearly, plus what SQL cannot see (ISO-8601 instants, absolute paths, unknown fields). Unknown fields are refused,
 * so nothing a caller sends by mistake (a token, a key) can reach a column. Event details have secret-looking keys redacted.
 */
import { isAbsolute } from "node:path";
import { assertProfileName, formatIssues, InputInvalid, issueList, TIERS } from "@twilight/core";
import { z } from "zod";
import { type NewEvent, PROFILE_STATUSES, type ProfilePatch } from "./types.js";

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

/** An instant with an explicit offset, normalised to `YYYY-MM-DDTHH:MM:SS.sssZ` (UTC). */
export const isoInstant = z.string().transform((s, ctx) => {
  const t = ISO_INSTANT.test(s) ? Date.parse(s) : Number.NaN;
  if (Number.isNaN(t)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: "expected an ISO-8601 instant with a Z or ±hh:mm offset" });
    return z.NEVER;
  }
  return new Date(t).toISOString();
});

const text = (max: number) => z.string().min(1).max(max);
const int = (min: number, max: number) => z.number().int().min(min).max(max);
const LAST_ERROR_MAX = 4000;

const fields = {
  tier: z.enum(TIERS),
  user_id: text(200).nullable(),
  status: z.enum(PROFILE_STATUSES),
  desired_state: z.enum(["running", "stopped"]),
  pid: int(1, 2 ** 31 - 1).nullable(),
  container_id: text(128).nullable(),
  workload_handle: text(4096)
    .refine((s) => {
      try {
        const v = JSON.parse(s) as unknown;
        return typeof v === "object" && v !== null && !Array.isArray(v);
      } catch {
        return false;
      }
    }, "expected a JSON object")
    .nullable(),
  profile_path: text(4096).refine(isAbsolute, "expected an absolute path"),
  node: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, "expected a node name (letters, digits, . _ -)")
    .nullable(),
  port: int(1, 65535),
  uid: int(0, 2 ** 32 - 2),
  gid: int(0, 2 ** 32 - 2),
  generation: int(0, 2 ** 31 - 1),
  image: text(500).nullable(),
  plan: text(200).nullable(),
  order_id: text(200).nullable(),
  restart_count: int(0, 2 ** 31 - 1),
  // long crash output is cut, not refused: a supervisor recording a failure must not fail itself
  last_error: z
    .string()
    .transform((s) => (s.length > LAST_ERROR_MAX ? `${s.slice(0, LAST_ERROR_MAX - 1)}…` : s))
    .nullable(),
  secrets_fingerprint: z.string().regex(/^(sha256:)?[0-9a-f]{64}$/, "expected a SHA-256 hex digest"),
  last_health_check: isoInstant.nullable(),
  last_started_at: isoInstant.nullable(),
};

const newProfileSchema = z
  .object({
    name: z.string(),
    tier: fields.tier,
    user_id: fields.user_id.default(null),
    status: fields.status,
    desired_state: fields.desired_state,
    pid: fields.pid.default(null),
    container_id: fields.container_id.default(null),
    workload_handle: fields.workload_handle.default(null),
    profile_path: fields.profile_path,
    node: fields.node.default(null),
    port: fields.port,
    uid: fields.uid,
    gid: fields.gid,
    generation: fields.generation.default(1),
    image: fields.image.default(null),
    plan: fields.plan.default(null),
    order_id: fields.order_id.default(null),
    secrets_fingerprint: fields.secrets_fingerprint,
  })
  .strict();

const patchSchema = z.object(fields).partial().strict();

const newEventSchema = z
  .object({
    profile: text(200),
    actor: text(200),
    action: text(100),
    result: z.enum(["ok", "error", "info"]),
    detail: z.record(z.unknown()).default({}),
  })
  .strict();

const eventsQuerySchema = z
  .object({ profile: text(200).optional(), limit: int(1, 10_000).default(1000) })
  .strict()
  .default({});

const DETAIL_MAX_BYTES = 64 * 1024;

function parse<S extends z.ZodTypeAny>(what: string, schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  // issue messages name paths and expectations, never the offending values (they may be secrets)
  throw new InputInvalid(`registry: invalid ${what}: ${formatIssues(r.error.issues)}`, {
    details: { issues: issueList(r.error.issues) },
  });
}

export type ValidNewProfile = z.output<typeof newProfileSchema>;

export function parseNewProfile(input: unknown): ValidNewProfile {
  const p = parse("profile", newProfileSchema, input);
  assertProfileName(p.name);
  return p;
}

/** Only the fields the caller set (undefined ones dropped), validated and normalised. */
export function parsePatch(input: unknown): ProfilePatch {
  const p = parse("profile patch", patchSchema, input) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as ProfilePatch;
}

export function parseNewEvent(input: unknown): Required<NewEvent> {
  const e = parse("event", newEventSchema, input) as Required<NewEvent>;
  const detail = redactSecrets(e.detail) as Record<string, unknown>;
  if (Buffer.byteLength(JSON.stringify(detail)) > DETAIL_MAX_BYTES) {
    throw new InputInvalid(`registry: event detail is larger than ${DETAIL_MAX_BYTES} bytes`);
  }
  return { ...e, detail };
}

export function parseEventsQuery(input: unknown): { profile?: string; limit: number } {
  return parse("events query", eventsQuerySchema, input);
}

const SECRETISH = /secret|token|passw|key$|authorization|credential|cookie/i;
export const REDACTED = "[redacted]";

/** Replace the values of secret-looking keys (a `*fingerprint` key is kept: it reveals nothing). Bounded depth. */
export function redactSecrets(v: unknown, depth = 0): unknown {
  if (depth > 20) return REDACTED;
  if (Array.isArray(v)) return v.map((x) => redactSecrets(x, depth + 1));
  if (typeof v !== "object" || v === null) return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      k,
      SECRETISH.test(k) && !/fingerprint$/i.test(k) ? REDACTED : redactSecrets(x, depth + 1),
    ]),
  );
}
