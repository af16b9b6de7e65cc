#!/usr/bin/env node
/**
 * The stock-research skill's commands, run inside a profile (`hermes-admin exec <name> -- fetch_price 600519`):
 *   fetch_price <code> [--date YYYYMMDD] [--json]
 *   fetch_fundamentals <code> --period YYYYMMDD [--json]
 * They call the data service with the profile's own token, verify the cite, and print a table (or the envelope).
 * Exit codes: 0 ok, 2 usage, 3 profile configuration, 4 data service unreachable or refused the token,
 * 5 the data service has no such data, 6 cite verification failed (nothing printed to stdout).
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CiteInvalid, DomainError, normalizeStockCode, TOOLS } from "@twilight/core";
import { callTool, ToolFailed, trustedKeys, verified } from "./client.js";
import { formatCite, formatDatum } from "./format.js";
import { loadSkillProfile } from "./profile.js";

export const EXIT = { ok: 0, usage: 2, config: 3, service: 4, noData: 5, cite: 6 } as const;

export interface Parsed {
  command: "fetch_price" | "fetch_fundamentals";
  code: string;
  date?: string;
  period?: string;
  json: boolean;
}

export class UsageError extends Error {}

const USAGE = {
  fetch_price: "usage: fetch_price <code> [--date YYYYMMDD] [--json]",
  fetch_fundamentals: "usage: fetch_fundamentals <code> --period YYYYMMDD [--json]",
};

export function parseArgs(command: string, argv: string[]): Parsed {
  if (command !== "fetch_price" && command !== "fetch_fundamentals")
    throw new UsageError(`unknown command ${JSON.stringify(command)}; use fetch_price or fetch_fundamentals`);
  const usage = USAGE[command];
  const out: Partial<Parsed> & { command: Parsed["command"]; json: boolean } = { command, json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (flag: string) => {
      const v = argv[++i];
      if (v === undefined || !/^\d{8}$/.test(v)) throw new UsageError(`${flag} needs a date as YYYYMMDD\n${usage}`);
      return v;
    };
    if (a === "--json") out.json = true;
    else if (a === "-h" || a === "--help") throw new UsageError(usage);
    else if (a === "--date" && command === "fetch_price") out.date = value(a);
    else if (a === "--period" && command === "fetch_fundamentals") out.period = value(a);
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}\n${usage}`);
    else if (out.code) throw new UsageError(`one stock code only\n${usage}`);
    else {
      try {
        out.code = normalizeStockCode(a);
      } catch (e) {
        throw new UsageError(`${(e as Error).message}\n${usage}`);
      }
    }
  }
  if (!out.code) throw new UsageError(`a stock code is required\n${usage}`);
  if (command === "fetch_fundamentals" && !out.period) throw new UsageError(`--period is required\n${usage}`);
  return out as Parsed;
}

export interface Io {
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
}

export async function run(
  command: string,
  argv: string[],
  io: Io = { out: process.stdout, err: process.stderr },
): Promise<number> {
  let args: Parsed;
  try {
    args = parseArgs(command, argv);
  } catch (e) {
    io.err.write(`${(e as Error).message}\n`);
    return EXIT.usage;
  }
  try {
    const profile = loadSkillProfile();
    const [tool, params] =
      args.command === "fetch_price"
        ? [TOOLS.latestPrice, { ts_code: args.code, ...(args.date ? { as_of: args.date } : {}) }]
        : [TOOLS.fundamentals, { ts_code: args.code, period: args.period }];
    const [envelope, keys] = await Promise.all([callTool(profile, tool, params), trustedKeys(profile)]);
    const env = verified<Record<string, unknown>>(envelope, keys, profile, { tool, args: params });
    if (args.json) io.out.write(`${JSON.stringify(env, null, 2)}\n`);
    else io.out.write(`${formatDatum(env.data)}\n\n${formatCite(env.cite)}\n`);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CiteInvalid) {
      io.err.write(`${command}: ${e.message}\nthe datum was not printed: it did not come verified from the data service\n`);
      return EXIT.cite;
    }
    if (e instanceof ToolFailed) {
      io.err.write(`${command}: ${e.message}\n`);
      return EXIT.noData;
    }
    if (e instanceof DomainError) {
      io.err.write(`${command}: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ""}\n`);
      return e.code === "CONFIG_INVALID" ? EXIT.config : EXIT.service;
    }
    io.err.write(`${command}: ${(e as Error).message ?? String(e)}\n`);
    return EXIT.service;
  }
}

function isMain(): boolean {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMain()) {
  const [command = "", ...rest] = process.argv.slice(2);
  run(command, rest).then(
    (code) => {
      process.exitCode = code;
      // an MCP transport may leave a timer behind: do not let it hold the command open
      setTimeout(() => process.exit(code), 2_000).unref();
    },
    (e: unknown) => {
      process.stderr.write(`${String(e)}\n`);
      process.exitCode = EXIT.service;
    },
  );
}
