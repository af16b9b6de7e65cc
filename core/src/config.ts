/** One zod-validated configuration per service, read once at start; a bad value stops the service with a clear message. */
import { ConfigInvalid } from "./errors.js";
import { formatIssues, type SchemaIssue } from "./validation.js";

/** What loadConfig needs of a schema: zod 3 and zod 4 (`zod/v4`) schemas both are one. */
export interface ConfigSchema<T> {
  safeParse(input: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<SchemaIssue> } };
}

export function loadConfig<T>(service: string, schema: ConfigSchema<T>, env: NodeJS.ProcessEnv = process.env): T {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  throw new ConfigInvalid(`${service}: invalid configuration\n  ${formatIssues(r.error.issues, "(root)", "\n  ")}`, {
    hint: `fix the environment variables above and start ${service} again`,
  });
}
