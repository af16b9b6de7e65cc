/** One zod-validated configuration per service, read once at start; a bad value stops the service with a clear message. */
import type { z } from "zod";
import { ConfigInvalid } from "./errors.js";
import { formatIssues } from "./validation.js";

export function loadConfig<S extends z.ZodTypeAny>(service: string, schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  throw new ConfigInvalid(`${service}: invalid configuration\n  ${formatIssues(r.error.issues, "(root)", "\n  ")}`, {
    hint: `fix the environment variables above and start ${service} again`,
  });
}
