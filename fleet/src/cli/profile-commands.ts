/** Profile verbs: spawn, list, start, stop, restart, health, logs, exec, rm, unit, events. Thin: all work happens in the daemon. */

import { InputInvalid } from "@twilight/core/errors";
import { assertProfileName, TIERS, type Tier } from "@twilight/core/names";
import type { Plan } from "@twilight/core/plans";
import { type Command, Option } from "commander";
import type { FleetClient } from "../client/client.js";
import type { ProfileView } from "../contract/schemas.js";
import { bytes, duration, progressPrinter, table } from "../lib/format.js";
import { EXIT } from "./exit-codes.js";
import { ROUTES } from "./lazy.js";
import { action, type GlobalOpts, printJson } from "./run.js";

type Client = () => FleetClient;

function parseSet(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf("=");
    if (i <= 0) throw new InputInvalid(`--set ${v}: expected KEY=VALUE`);
    out[v.slice(0, i)] = v.slice(i + 1);
  }
  return out;
}

function workload(p: ProfileView): string {
  return p.tier !== "prefab" ? (p.container_id?.slice(0, 12) ?? "-") : p.pid ? String(p.pid) : "-";
}

export function profileCommands(program: Command, client: Client): void {
  program
    .command("spawn")
    .description("create a profile from the template, start it and wait until it is healthy")
    .argument("<name>", "profile name (a DNS label, e.g. test-basic-1)")
    .addOption(new Option("--tier <tier>", "running tier").choices([...TIERS]).makeOptionMandatory())
    .option("--plan <plan>", "billing plan code")
    .option("--user <id>", "the paying user's id")
    .option(
      "--set <KEY=VALUE>",
      "supply a secret declared in secrets.schema.json (repeatable)",
      (v, a: string[]) => [...a, v],
      [],
    )
    .option("--idempotency-key <key>", "return the existing profile when this key was used before (billing: the order id)")
    .option("--node <node>", "swarm tier: the node to hold the profile (default: the one with the most free memory)")
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin spawn test-basic-1 --tier prefab\n  hermes-admin spawn user-42 --tier container --plan dedicated_pro --set WEIXIN_HOME_CHANNEL=wx_42 --idempotency-key ord_42 --json\n  hermes-admin spawn user-43 --tier swarm --node node-b",
    )
    .action(
      action(
        async (
          name: string,
          o: { tier: string; plan?: string; user?: string; set: string[]; idempotencyKey?: string; node?: string },
          cmd: Command,
        ) => {
          const g = cmd.optsWithGlobals<GlobalOpts>();
          assertProfileName(name);
          const headers: Record<string, string> = o.idempotencyKey ? { "idempotency-key": o.idempotencyKey } : {};
          if (!g.json) process.stderr.write(`spawning ${name} (${o.tier})\n`);
          const r = await client().op(
            ROUTES.spawnProfile,
            {
              params: { name },
              body: {
                tier: o.tier as Tier,
                plan: (o.plan ?? null) as Plan | null,
                user_id: o.user ?? null,
                set: parseSet(o.set),
                ...(o.node ? { node: o.node } : {}),
              },
              headers,
            },
            progressPrinter(),
          );
          if (g.json) return void printJson(r);
          const p = r.profile;
          process.stdout.write(
            `${r.created ? "created" : "exists (same idempotency key)"}: ${p.name}\n` +
              table(
                ["FIELD", "VALUE"],
                [
                  ["tier", p.tier],
                  ...(p.node ? [["node", p.node]] : []),
                  ["status", p.status],
                  ["path", p.profile_path],
                  ["status url", p.status_url],
                  ["api base", String(r.connection.api_base)],
                  ["api key", String(r.connection.api_key)],
                  ["port", p.port],
                  ["uid", p.uid],
                ],
              ) +
              "\n",
          );
        },
      ),
    );

  type ListOpts = { stats: boolean; names?: boolean };
  const listQuery = (o: ListOpts): Record<string, string> => (o.stats && !o.names ? { stats: "1" } : {});
  const listPath = (o: ListOpts) => `/v1/profiles${o.stats && !o.names ? `?${new URLSearchParams(listQuery(o))}` : ""}`;
  program
    .command("list")
    .alias("ls")
    .description("show all profiles with their workload, port, uptime, CPU and memory")
    .option("--no-stats", "skip the CPU/memory sample (faster)")
    .option("--names", "only the names, one a line (for scripts and shell completion)")
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin list\n  hermes-admin list --names\n  hermes-admin list --json | jq '.profiles[] | select(.status != \"running\")'",
    )
    .action(
      action(
        async (o: ListOpts, cmd: Command) => {
          const r = await client().call(ROUTES.listProfiles, { query: listQuery(o) });
          if (o.names) return void process.stdout.write(r.profiles.map((p) => `${p.name}\n`).join(""));
          if (cmd.optsWithGlobals<GlobalOpts>().json) return void printJson(r);
          if (r.profiles.length === 0)
            return void process.stdout.write("no profiles (create one: hermes-admin spawn <name> --tier prefab)\n");
          process.stdout.write(
            `${table(
              ["NAME", "TIER", "STATUS", "PID/CONTAINER", "PORT", "UPTIME", "CPU%", "MEM", "RESTARTS", "GEN", "LAST ERROR"],
              r.profiles.map((p) => [
                p.name,
                p.tier,
                p.status,
                workload(p),
                p.port,
                duration(p.runtime?.uptime_s),
                p.runtime?.cpu_percent,
                bytes(p.runtime?.memory_bytes),
                p.restart_count,
                p.generation,
                p.last_error?.slice(0, 60),
              ]),
            )}\n`,
          );
        },
        // sent while the contract loads (client/prefetch.ts): the same GET as the call above (cli.int checks one request)
        { prefetch: (o: ListOpts) => listPath(o) },
      ),
    );

  const VERBS = {
    start: "start a profile and wait until it is healthy",
    stop: "stop a profile (SIGTERM, then SIGKILL after the timeout); it stays stopped until started",
    restart: "restart a profile and wait until it is healthy",
    sleep: "put a running profile to sleep: its process or container stops, its state stays, its next request wakes it",
    wake: "wake a sleeping profile and wait until it is healthy (a request through the front door does the same)",
  } as const;
  for (const verb of Object.keys(VERBS) as Array<keyof typeof VERBS>) {
    program
      .command(verb)
      .description(VERBS[verb])
      .argument("<name>")
      .addHelpText(
        "after",
        `\nExample:\n  hermes-admin ${verb} test-basic-1${verb === "sleep" ? "\n\nIdle profiles sleep on their own (basic after 30 min, pro after 2 h; FLEET_IDLE_AFTER_MS)." : ""}`,
      )
      .action(
        action(async (name: string, _o: unknown, cmd: Command) => {
          const g = cmd.optsWithGlobals<GlobalOpts>();
          const p = await client().op(ROUTES[`${verb}Profile`], { params: { name } }, progressPrinter());
          if (g.json) return void printJson(p);
          process.stdout.write(`${p.name}: ${p.status}${p.pid ? ` (pid ${p.pid})` : ""}\n`);
        }),
      );
  }

  program
    .command("migrate")
    .description("move a running profile to the other tier on the same directory and uid, holding requests only for the handover")
    .argument("<name>")
    .addOption(new Option("--to <tier>", "target tier").choices([...TIERS]).default("container"))
    .option("--health-timeout <ms>", "how long the new workload may take to come up in standby")
    .option("--drain-timeout <ms>", "how long in-flight requests may take to finish before the old workload stops")
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin migrate test-upgrade-1 --to container\n  hermes-admin migrate test-upgrade-1 --to prefab    # also the way back",
    )
    .action(
      action(async (name: string, o: { to: string; healthTimeout?: string; drainTimeout?: string }, cmd: Command) => {
        const g = cmd.optsWithGlobals<GlobalOpts>();
        if (!g.json) process.stderr.write(`migrating ${name} to ${o.to}\n`);
        const r = await client().op(
          ROUTES.migrateProfile,
          {
            params: { name },
            body: {
              to: o.to as Tier,
              ...(o.healthTimeout ? { health_timeout_ms: Number(o.healthTimeout) } : {}),
              ...(o.drainTimeout ? { drain_timeout_ms: Number(o.drainTimeout) } : {}),
            },
          },
          progressPrinter(),
        );
        if (g.json) return void printJson(r);
        process.stdout.write(
          `${r.message}\n  pause ${r.pause_ms} ms, longest held request ${r.held_ms} ms, total ${r.total_ms} ms\n`,
        );
      }),
    );

  program
    .command("health")
    .description("probe one profile's /health (or every profile's), exit 8 when any is unhealthy")
    .argument("[name]")
    .addHelpText("after", "\nExamples:\n  hermes-admin health\n  hermes-admin health test-basic-1 --json")
    .action(
      action(async (name: string | undefined, _o: unknown, cmd: Command) => {
        const c = client();
        const names = name ? [name] : (await c.call(ROUTES.listProfiles, {})).profiles.map((p) => p.name);
        const results = await Promise.all(names.map((n) => c.call(ROUTES.profileHealth, { params: { name: n } })));
        const { sandbox, pool } = await c.call(ROUTES.daemonHealth, {});
        const platform = await platformRows(c);
        if (cmd.optsWithGlobals<GlobalOpts>().json)
          printJson({ profiles: results, platform, sandbox, ...(pool ? { pool } : {}) });
        else
          process.stdout.write(
            `${sandbox}\n` +
              (pool
                ? `warm pool: ${pool.ready}/${pool.size} ready${pool.starting ? `, ${pool.starting} starting` : ""}; ` +
                  `${pool.served} spawns served, ${pool.missed} started cold${pool.lastError ? `; last error: ${pool.lastError}` : ""}\n`
                : "") +
              `${table(
                ["NAME", "TIER", "STATUS", "HEALTH", "LATENCY", "DETAIL"],
                [
                  ...results.map((h) => [
                    h.name,
                    h.tier,
                    h.status,
                    h.healthy ? "ok" : h.status === "sleeping" ? "asleep" : "FAIL",
                    `${h.probe.latencyMs}ms`,
                    h.probe.error ?? h.last_error,
                  ]),
                  ...platform.map((p) => [p.name, "platform", p.status, p.health, "", p.detail]),
                ],
              )}\n`,
          );
        // the exit code is the profiles' (a fleet may run without its data service); `doctor` judges the platform
        // a sleeping profile is not a failure: the front door wakes it on its next request
        return results.every((h) => h.healthy || h.status === "sleeping") ? EXIT.ok : EXIT.checkFailed;
      }),
    );

  program
    .command("logs")
    .description("print a profile's console log; --follow keeps streaming")
    .argument("<name>")
    .option("-f, --follow", "keep streaming new lines")
    .option("-n, --tail <n>", "lines from the end", "100")
    .addHelpText("after", "\nExamples:\n  hermes-admin logs test-basic-1 --tail 20\n  hermes-admin logs test-container-1 -f")
    .action(
      action(async (name: string, o: { follow?: boolean; tail: string }, cmd: Command) => {
        const json = cmd.optsWithGlobals<GlobalOpts>().json;
        const ac = new AbortController();
        process.once("SIGINT", () => ac.abort());
        await client()
          .lines(
            ROUTES.profileLogs,
            {
              params: { name },
              query: { tail: Number(o.tail), ...(o.follow ? { follow: "1" as const } : {}) },
              signal: ac.signal,
            },
            (l) => process.stdout.write(json ? `${JSON.stringify({ profile: name, line: l })}\n` : `${l}\n`),
          )
          .catch((e) => {
            if (!ac.signal.aborted) throw e;
          });
      }),
    );

  program
    .command("exec")
    .description("run a command inside a profile: its uid, its directory, its environment; exits with the command's code")
    .argument("<name>")
    .argument("<cmd...>", "command and arguments (put them after --)")
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin exec test-basic-1 -- id\n  hermes-admin exec test-basic-1 -- fetch_price 600519\n  hermes-admin exec test-basic-1 --json -- cat .env   # {stdout, stderr, exit}",
    )
    .action(
      action(async (name: string, argv: string[], _o: unknown, cmd: Command) => {
        const json = cmd.optsWithGlobals<GlobalOpts>().json;
        let exit = EXIT.failure as number;
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        await client().lines(ROUTES.execProfile, { params: { name }, body: { argv } }, (f) => {
          if ("exit" in f) exit = f.exit;
          else {
            const b = Buffer.from(f.d, "base64");
            if (json) (f.s === "o" ? out : err).push(b);
            else (f.s === "o" ? process.stdout : process.stderr).write(b);
          }
        });
        if (json)
          printJson({ profile: name, argv, exit, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
        return exit;
      }),
    );

  program
    .command("rotate-key")
    .description("give a profile new generated keys; restarts it when it runs (the new values stay in its .env)")
    .argument("<name>")
    .option("--model", "its virtual key at the model gateway (the old one is refused within a second)")
    .option("--api", "the key its user calls it with (API_SERVER_KEY): hand the user the new one")
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin rotate-key user-42 --model\n  hermes-admin rotate-key user-42 --model --api --json",
    )
    .action(
      action(async (name: string, o: { model?: boolean; api?: boolean }, cmd: Command) => {
        const which = [...(o.model ? ["model" as const] : []), ...(o.api ? ["api" as const] : [])];
        if (!which.length) throw new InputInvalid("say which key to rotate: --model, --api or both");
        const r = await client().op(ROUTES.rotateSecrets, { params: { name }, body: { which } }, progressPrinter());
        if (cmd.optsWithGlobals<GlobalOpts>().json) return void printJson(r);
        process.stdout.write(
          `rotated ${r.rotated.join(", ")} of ${name}${r.restarted ? " (restarted to read them)" : " (it reads them at its next start)"}\n`,
        );
      }),
    );

  program
    .command("ask")
    .description("ask a running profile a question through its own API, as its user would (model, data service, cites)")
    .argument("<name>")
    .argument("<question...>", "the question (quote it, or put it after --)")
    .option("--session <id>", "continue this conversation (the session id a previous ask printed)")
    .addHelpText(
      "after",
      '\nExamples:\n  hermes-admin ask test-basic-1 "latest price of 600519"\n  hermes-admin ask test-basic-1 --session <id> "and its 2024 ROE?"\n  hermes-admin ask test-basic-1 --json -- 600519 最新价格',
    )
    .action(
      action(async (name: string, words: string[], o: { session?: string }, cmd: Command) => {
        const json = cmd.optsWithGlobals<GlobalOpts>().json;
        if (!json) process.stderr.write(`asking ${name}...\n`);
        const a = await client().call(ROUTES.askProfile, {
          params: { name },
          body: { question: words.join(" "), ...(o.session ? { session_id: o.session } : {}) },
        });
        if (json) return void printJson(a);
        process.stdout.write(`${a.answer}\n`);
        process.stderr.write(
          `\n(${a.citations.length} verified cite${a.citations.length === 1 ? "" : "s"}, model ${a.model}, ${a.ms} ms; continue with --session ${a.session_id})\n`,
        );
      }),
    );

  program
    .command("rm")
    .description("remove a profile from the fleet (refuses a running one without --force; --purge deletes its directory)")
    .argument("<name>")
    .option("--force", "stop it first if it runs")
    .option("--purge", "also delete the profile directory (conversations, secrets): cannot be undone")
    .addHelpText("after", "\nExamples:\n  hermes-admin rm test-basic-2 --force\n  hermes-admin rm test-basic-2 --force --purge")
    .action(
      action(async (name: string, o: { force?: boolean; purge?: boolean }, cmd: Command) => {
        if (name.includes("@")) {
          // an archive: the kept directory of a removed profile
          if (!o.purge) throw new InputInvalid(`${name} is an archive: pass --purge to delete it for good`);
          const p = await client().call(ROUTES.purgeArchive, { params: { archive: name } });
          if (cmd.optsWithGlobals<GlobalOpts>().json) return void printJson(p);
          return void process.stdout.write(`purged archive ${p.purged}\n`);
        }
        const r = await client().call(ROUTES.removeProfile, {
          params: { name },
          query: { force: o.force ? "1" : "0", purge: o.purge ? "1" : "0" },
        });
        if (cmd.optsWithGlobals<GlobalOpts>().json) return void printJson(r);
        process.stdout.write(
          `removed ${r.removed}${r.purged ? " (directory deleted)" : ` (directory kept, root-only, as archive ${r.archive}; purge: hermes-admin rm --purge ${r.archive})`}\n`,
        );
      }),
    );

  program
    .command("archives")
    .description("kept directories of removed profiles (root-only); purge one with `hermes-admin rm --purge <archive>`")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.listArchives, {});
        if (cmd.optsWithGlobals<GlobalOpts>().json) return void printJson(r);
        if (r.archives.length === 0) return void process.stdout.write("no archives\n");
        process.stdout.write(
          `${table(
            ["ARCHIVE", "PROFILE", "REMOVED"],
            r.archives.map((a) => [a.name, a.profile, a.removed_at]),
          )}\n`,
        );
      }),
    );

  program
    .command("unit")
    .description("print a systemd unit for a prefab profile (for hosts that prefer systemd)")
    .argument("<name>")
    .addHelpText(
      "after",
      "\nExample:\n  hermes-admin unit test-basic-1 > /etc/systemd/system/hermes-profile-test-basic-1.service",
    )
    .action(
      action(async (name: string, _o: unknown, cmd: Command) => {
        const text = await client().call(ROUTES.profileUnit, { params: { name } });
        if (cmd.optsWithGlobals<GlobalOpts>().json) return void printJson({ profile: name, unit: text });
        process.stdout.write(text);
      }),
    );

  program
    .command("events")
    .description("the audit trail: who did what to which profile, newest first")
    .argument("[name]")
    .option("-n, --limit <n>", "how many", "30")
    .action(
      action(async (name: string | undefined, o: { limit: string }, cmd: Command) => {
        const r = await client().call(ROUTES.events, { query: { limit: Number(o.limit), ...(name ? { profile: name } : {}) } });
        if (cmd.optsWithGlobals<GlobalOpts>().json) return void printJson(r);
        process.stdout.write(
          `${table(
            ["AT", "PROFILE", "ACTOR", "ACTION", "RESULT", "DETAIL"],
            r.events.map((e) => [e.at, e.profile, e.actor, e.action, e.result, JSON.stringify(e.detail).slice(0, 80)]),
          )}\n`,
        );
      }),
    );
}

interface PlatformRow {
  name: "data-service" | "model-gateway";
  status: string;
  /** ok, seeding, degraded (answers, data behind), FAIL, off (a gateway that is not running: maybe unused). */
  health: "ok" | "seeding" | "degraded" | "FAIL" | "off";
  detail: string;
}

/** The platform services beside the profiles in `health` (the data service is needed; the gateway when used). */
async function platformRows(c: FleetClient): Promise<PlatformRow[]> {
  const rows: PlatformRow[] = [];
  try {
    const m = await c.call(ROUTES.mcpStatus, {});
    const s = m.health?.seeding;
    rows.push({
      name: "data-service",
      status: m.running ? "running" : m.exists ? "stopped" : "absent",
      health:
        !m.running || m.health?.httpStatus !== 200
          ? "FAIL"
          : s?.state === "seeding"
            ? "seeding"
            : m.health.ok
              ? "ok"
              : "degraded",
      detail: !m.running
        ? "fix: hermes-admin up"
        : m.health?.httpStatus !== 200
          ? (m.health?.error ?? `health HTTP ${m.health?.httpStatus ?? "?"}`)
          : s?.state === "seeding"
            ? `seeding: ${s.days_done} of ${s.days_total ?? "?"} days, data as of ${s.as_of ?? "-"}`
            : `${m.url}${m.health.open_days_behind ? `, data ${m.health.open_days_behind} open days behind (hermes-admin doctor)` : ""}`,
    });
  } catch (e) {
    rows.push({ name: "data-service", status: "unknown", health: "FAIL", detail: (e as Error).message });
  }
  try {
    const g = await c.call(ROUTES.gatewayStatus, {});
    rows.push({
      name: "model-gateway",
      status: g.running ? "running" : "stopped",
      health: !g.running ? "off" : g.health?.ok ? "ok" : "FAIL",
      detail: g.running ? `${g.url}, ${g.keys} keys` : "not running (needed when profiles use a custom model): hermes-admin up",
    });
  } catch (e) {
    rows.push({ name: "model-gateway", status: "unknown", health: "FAIL", detail: (e as Error).message });
  }
  return rows;
}
