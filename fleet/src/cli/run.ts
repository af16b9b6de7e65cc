/** The CLI's one error boundary: DomainError -> message, hint and exit code; anything else -> exit 1 with the message. */
import { DomainError } from "@twilight/core/errors";
import { prefetch } from "../client/prefetch.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { loadContract } from "./lazy.js";

export interface GlobalOpts {
  json?: boolean;
}

export function printJson(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o, null, 2)}\n`);
}

export function fail(e: unknown, json: boolean): number {
  if (e instanceof DomainError) {
    if (json) process.stdout.write(`${JSON.stringify({ error: e.toJSON() }, null, 2)}\n`);
    process.stderr.write(`error: ${e.message}\n`);
    if (e.hint) process.stderr.write(`  hint: ${e.hint}\n`);
    return exitCodeFor(e.code);
  }
  const msg = (e as Error)?.message ?? String(e);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code: "INTERNAL", message: msg } }, null, 2)}\n`);
  process.stderr.write(`error: ${msg}\n`);
  return EXIT.failure;
}

/**
 * Wrap a command action: run it, set the exit code, never throw past here. `prefetch`: the path of the GET the command
 * will send first, if its arguments alone say so; it goes out while the contract loads (client/prefetch.ts).
 */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<unknown>,
  opts: { prefetch?: (...args: A) => string } = {},
) {
  return async (...args: A): Promise<void> => {
    const cmd = args[args.length - 1] as { optsWithGlobals?: () => GlobalOpts };
    const json = Boolean(cmd?.optsWithGlobals?.().json);
    try {
      if (opts.prefetch) prefetch(opts.prefetch(...args));
      await loadContract();
      const r = await fn(...args);
      process.exitCode = typeof r === "number" ? r : EXIT.ok;
    } catch (e) {
      process.exitCode = fail(e, json);
    }
  };
}
