/**
 * secrets.schema.json of a profile template: which secrets a profile's .env holds, which the fleet generates and which
 * the provisioning request supplies. Pure: randomness is injected, so tests are deterministic.
 */
import { createHash, randomBytes } from "node:crypto";
import { formatIssues, InputInvalid, isEnvKey } from "@twilight/core";
import { z } from "zod";

const Generated = z.object({
  kind: z.literal("generated"),
  prefix: z.string().default(""),
  length: z.number().int().min(16).max(256),
  alphabet: z.enum(["base62", "base64url", "hex"]),
  required: z.boolean().default(true),
  description: z.string().optional(),
});
const Supplied = z.object({
  kind: z.literal("supplied"),
  required: z.boolean().default(false),
  pattern: z.string().optional(),
  description: z.string().optional(),
});
const Spec = z.discriminatedUnion("kind", [Generated, Supplied]);
export const SecretsSchema = z.object({
  version: z.literal(1),
  secrets: z.record(Spec).refine((r) => Object.keys(r).every(isEnvKey), "secret names must be env variable names"),
});
export type SecretsSchema = z.infer<typeof SecretsSchema>;

export function parseSecretsSchema(json: unknown): SecretsSchema {
  const r = SecretsSchema.safeParse(json);
  if (!r.success) throw new InputInvalid(`secrets.schema.json is invalid: ${formatIssues(r.error.issues)}`);
  return r.data;
}

const ALPHABETS = {
  base62: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  base64url: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
  hex: "0123456789abcdef",
} as const;

export type RandomBytes = (n: number) => Buffer;

/** Uniform random string over an alphabet (rejection sampling, no modulo bias). */
export function randomString(alphabet: string, length: number, rnd: RandomBytes = randomBytes): string {
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) {
    for (const b of rnd(length * 2)) {
      if (b < limit) out += alphabet[b % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** The exact shape of a generated secret: its prefix, then its alphabet to its length. */
export function generatedFormat(spec: { prefix: string; alphabet: keyof typeof ALPHABETS; length: number }): RegExp {
  const cls = { base62: "A-Za-z0-9", base64url: "A-Za-z0-9_-", hex: "0-9a-f" }[spec.alphabet];
  const prefix = spec.prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${prefix}[${cls}]{${spec.length - spec.prefix.length}}$`);
}

/**
 * Build the secret values for a new profile: every generated secret (unless supplied explicitly), plus the supplied
 * ones, each checked against its pattern. Unknown keys and missing required ones are refused before anything is written.
 */
export function buildSecrets(
  schema: SecretsSchema,
  supplied: Record<string, string>,
  rnd: RandomBytes = randomBytes,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(supplied)) {
    const spec = Object.hasOwn(schema.secrets, key) ? schema.secrets[key] : undefined;
    if (!spec)
      throw new InputInvalid(`--set ${key}: not a secret this template declares`, {
        hint: `declared: ${Object.keys(schema.secrets).join(", ")}`,
      });
    // A generated secret may be supplied (billing issues the user's token) only in its exact generated format, so a
    // weak value (API_SERVER_KEY=x) is refused; uniqueness of the data-service token is enforced where it is registered.
    const given = supplied[key] as string;
    if (spec.kind === "generated" && !generatedFormat(spec).test(given))
      throw new InputInvalid(
        `--set ${key}: a supplied ${key} must look generated: "${spec.prefix}" then ${spec.length - spec.prefix.length} ${spec.alphabet} characters`,
        { hint: `leave ${key} out and the fleet generates one` },
      );
  }
  for (const [key, spec] of Object.entries(schema.secrets)) {
    const given = supplied[key];
    if (spec.kind === "generated") {
      out[key] = given ?? spec.prefix + randomString(ALPHABETS[spec.alphabet], spec.length - spec.prefix.length, rnd);
      continue;
    }
    if (given === undefined) {
      if (spec.required) throw new InputInvalid(`secret ${key} is required`, { hint: `pass --set ${key}=VALUE` });
      continue;
    }
    if (spec.pattern && !new RegExp(spec.pattern).test(given))
      throw new InputInvalid(`--set ${key}: value does not match ${spec.pattern}`);
    out[key] = given;
  }
  return out;
}

/** A new value for one generated secret, in the template's format (rotation). Throws for a supplied one. */
export function freshSecret(schema: SecretsSchema, key: string, rnd: RandomBytes = randomBytes): string {
  const spec = Object.hasOwn(schema.secrets, key) ? schema.secrets[key] : undefined;
  if (spec?.kind !== "generated")
    throw new InputInvalid(`${key} is not a secret the fleet generates, so it cannot rotate it`, {
      hint: `generated: ${Object.entries(schema.secrets)
        .filter(([, v]) => v.kind === "generated")
        .map(([k]) => k)
        .join(", ")}`,
    });
  return spec.prefix + randomString(ALPHABETS[spec.alphabet], spec.length - spec.prefix.length, rnd);
}

/** SHA-256 over the sorted names and values: shows that secrets changed, reveals nothing. Stored in the registry. */
export function secretsFingerprint(secrets: Record<string, string>): string {
  const h = createHash("sha256");
  for (const k of Object.keys(secrets).sort()) h.update(`${k}\0${secrets[k]}\0`);
  return h.digest("hex");
}
