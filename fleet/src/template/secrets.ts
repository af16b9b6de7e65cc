/**
 * secrets.schema.json of a profile template: which secrets a profile's .env holds, which the fleet generates and which
 * the provisioning request supplies. Pure: randomness is injected, so tests are deterministic.
 */
import { createHash, randomBytes } from "node:crypto";
import { InputInvalid, isEnvKey } from "@twilight/core";
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
  if (!r.success)
    throw new InputInvalid(
      `secrets.schema.json is invalid: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
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
    if (!(key in schema.secrets))
      throw new InputInvalid(`--set ${key}: not a secret this template declares`, {
        hint: `declared: ${Object.keys(schema.secrets).join(", ")}`,
      });
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

/** SHA-256 over the sorted names and values: shows that secrets changed, reveals nothing. Stored in the registry. */
export function secretsFingerprint(secrets: Record<string, string>): string {
  const h = createHash("sha256");
  for (const k of Object.keys(secrets).sort()) h.update(`${k}\0${secrets[k]}\0`);
  return h.digest("hex");
}
