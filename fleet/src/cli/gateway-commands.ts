/** `hermes-admin gateway up|down|status` (the model gateway) and `hermes-admin usage [X]` (its metering). */
import { readFileSync } from "node:fs";
import { parseEnv } from "@twilight/core/envfile";
import { InputInvalid } from "@twilight/core/errors";
import type { Command } from "commander";
import type { FleetClient } from "../client/client.js";
import { progressPrinter, table } from "../lib/format.js";
import { EXIT } from "./exit-codes.js";
import { ROUTES } from "./lazy.js";
import { action, type GlobalOpts, printJson } from "./run.js";

type Client = () => FleetClient;
const json = (cmd: Command) => Boolean(cmd.optsWithGlobals<GlobalOpts>().json);

/** UPSTREAM_BASE_URL and UPSTREAM_API_KEY from an env file (the key never goes on a command line). */
function upstreamFrom(file: string): { upstream_base_url: string; upstream_api_key: string } {
  const env = parseEnv(readFileSync(file, "utf8"));
  if (!env.UPSTREAM_BASE_URL || !env.UPSTREAM_API_KEY)
    throw new InputInvalid(`${file} must set UPSTREAM_BASE_URL and UPSTREAM_API_KEY`);
  return { upstream_base_url: env.UPSTREAM_BASE_URL, upstream_api_key: env.UPSTREAM_API_KEY };
}

export function gatewayCommands(program: Command, client: Client): void {
  const gw = program
    .command("gateway")
    .description("the model gateway: profiles' OpenAI-compatible endpoint with virtual keys, plan limits and metering");
  gw.command("up")
    .description("start the gateway (idempotent); --upstream-env (re)writes its upstream URL and key (rotation: no restarts)")
    .option("--upstream-env <file>", "env file with UPSTREAM_BASE_URL and UPSTREAM_API_KEY (read here, stored 0600 by the fleet)")
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin gateway up --upstream-env ./siliconflow.env\n  hermes-admin gateway up            # start with the stored upstream",
    )
    .action(
      action(async (o: { upstreamEnv?: string }, cmd: Command) => {
        const body = o.upstreamEnv ? upstreamFrom(o.upstreamEnv) : {};
        const r = await client().op(ROUTES.gatewayUp, { body }, progressPrinter());
        if (json(cmd)) return void printJson(r);
        process.stdout.write(
          `model gateway ${r.running ? "running" : "not running"} at ${r.url}${r.url_container ? ` (containers: ${r.url_container})` : ""}\n`,
        );
      }),
    );
  gw.command("down")
    .description("stop the gateway (keys, usage and upstream secret are kept)")
    .addHelpText("after", "\nExample:\n  hermes-admin gateway down")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.gatewayDown, {});
        if (json(cmd)) return void printJson(r);
        process.stdout.write(r.stopped ? "model gateway stopped\n" : "model gateway was not running\n");
      }),
    );
  gw.command("status")
    .description("process, /health, virtual keys held, upstream configured")
    .addHelpText("after", "\nExample:\n  hermes-admin gateway status --json")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.gatewayStatus, {});
        if (json(cmd)) printJson(r);
        else
          process.stdout.write(
            `${table(
              ["RUNNING", "PID", "URL", "CONTAINERS", "HEALTH", "KEYS", "UPSTREAM"],
              [
                [
                  String(r.running),
                  String(r.pid ?? "-"),
                  r.url,
                  r.url_container ?? "-",
                  r.health ? (r.health.ok ? "ok" : (r.health.error ?? "down")) : "-",
                  String(r.keys),
                  r.upstream_configured ? "set" : "missing",
                ],
              ],
            )}\n`,
          );
        return r.running && r.health?.ok ? EXIT.ok : EXIT.unavailable;
      }),
    );

  program
    .command("usage [name]")
    .description("model usage per profile per UTC day: requests, prompt/completion tokens, spend (fen), refusals")
    .option("--since <day>", "first UTC day, YYYY-MM-DD")
    .addHelpText("after", "\nExamples:\n  hermes-admin usage\n  hermes-admin usage test-basic-1 --since 2026-12-01 --json")
    .action(
      action(async (name: string | undefined, o: { since?: string }, cmd: Command) => {
        const r = await client().call(ROUTES.usage, { query: { profile: name, since: o.since } });
        if (json(cmd)) return void printJson(r);
        process.stdout.write(
          `${table(
            ["PROFILE", "DAY", "REQUESTS", "PROMPT", "COMPLETION", "SPEND_FEN", "LIMITED"],
            r.usage.map((u) => [
              u.profile,
              u.day,
              String(u.requests),
              String(u.prompt_tokens),
              String(u.completion_tokens),
              u.spend_fen.toFixed(3),
              String(u.limited),
            ]),
          )}\n`,
        );
      }),
    );
}
