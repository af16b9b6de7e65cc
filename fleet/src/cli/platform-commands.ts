/** Host-platform verbs: images, the data service (mcp), compose, orphans, and the Phase 0 `verify`. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { Command } from "commander";
import type { FleetClient } from "../client/client.js";
import type { FleetConfig } from "../config.js";
import type { McpStatus } from "../contract/schemas.js";
import { progressPrinter, table } from "../lib/format.js";
import { EXIT } from "./exit-codes.js";
import { ROUTES } from "./lazy.js";
import { action, type GlobalOpts, printJson } from "./run.js";

type Client = () => FleetClient;

/** One line for people: running or not, healthy or not, and whether the warehouse is still being seeded. */
export function describeDataService(r: McpStatus): string {
  if (!r.running) return `data service ${r.name}: not running (hermes-admin up)`;
  const h = r.health;
  const s = h?.seeding;
  const seeding =
    s?.state === "seeding"
      ? `; still seeding its warehouse: ${s.days_done} of ${s.days_total ?? "?"} days${s.as_of ? `, data as of ${s.as_of}` : ""} (answers about the latest data say so)`
      : s?.state === "ready"
        ? `; warehouse ready${s.as_of ? `, data as of ${s.as_of}` : ""}`
        : "";
  return `data service ${r.name} running${r.mode === "swarm" ? " as a swarm service" : ""} at ${r.url}, ${h?.httpStatus ? `health ${h.status ?? h.httpStatus}` : `not answering (${h?.error ?? "?"})`}${seeding}`;
}
const json = (cmd: Command) => Boolean(cmd.optsWithGlobals<GlobalOpts>().json);

export function platformCommands(program: Command, cfg: () => FleetConfig, client: Client): void {
  const images = program.command("images").description("container images, built with no registry from the host's Node.js");
  images
    .command("build")
    .description("build the base, profile and data-service images (a no-op when nothing changed)")
    .option("--force", "rebuild even when the content hash matches")
    .addHelpText("after", "\nExample:\n  hermes-admin images build")
    .action(
      action(async (o: { force?: boolean }, cmd: Command) => {
        const r = await client().op(ROUTES.buildImages, { body: { force: Boolean(o.force) } }, progressPrinter());
        if (json(cmd)) return void printJson(r);
        process.stdout.write(
          `${table(
            ["IMAGE", "REF"],
            r.images.map((i) => [i.kind, i.ref]),
          )}\nbuilt in ${r.seconds.toFixed(1)} s\n`,
        );
      }),
    );

  const mcp = program.command("mcp").description("the data service (MCP Tushare) container twilight-mcp-tushare");
  mcp
    .command("up")
    .description("run the data service on network twilight, published on 127.0.0.1:9100 (idempotent)")
    .option("--wait-seeded <seconds>", "wait this long for its first backfill (0: return once it answers)", "120")
    .option(
      "--swarm",
      "run it as a Swarm service instead: one writer on this node, reachable by name on the overlay and the bridge, and at this node's address from other nodes",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin mcp up --wait-seeded 0   # return at once; `mcp status` shows the seeding\n  hermes-admin mcp up --swarm            # after `swarm init`; `mcp up` without it goes back to a container",
    )
    .action(
      action(async (o: { waitSeeded: string; swarm?: boolean }, cmd: Command) => {
        const r = await client().op(
          ROUTES.mcpUp,
          {
            body: {
              wait_seeded_ms: Math.round(Number(o.waitSeeded) * 1000),
              ...(o.swarm ? { swarm: true } : {}),
            },
          },
          progressPrinter(),
        );
        if (json(cmd)) return void printJson(r);
        process.stdout.write(`${describeDataService(r)}\n`);
      }),
    );
  mcp
    .command("down")
    .description("stop and remove the data-service container (its data directory is kept)")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.mcpDown, {});
        if (json(cmd)) return void printJson(r);
        process.stdout.write(r.stopped ? "data service stopped\n" : "data service was not running\n");
      }),
    );
  mcp
    .command("status")
    .description("container state and /health of the data service")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.mcpStatus, {});
        if (json(cmd)) printJson(r);
        else process.stdout.write(`${describeDataService(r)}\n${JSON.stringify(r, null, 2)}\n`);
        return r.running ? EXIT.ok : EXIT.unavailable;
      }),
    );
  mcp
    .command("rotate-key")
    .description(
      "new cite signing key for the data service; the old one verifies for a grace period; profiles re-pinned, no restarts",
    )
    .option("--grace-seconds <n>", "how long cites signed by the old key stay valid", "3600")
    .option("--activate-in-seconds <n>", "delay before the new key signs (profiles are re-pinned first)", "2")
    .addHelpText("after", "\nExample:\n  hermes-admin mcp rotate-key --grace-seconds 600")
    .action(
      action(async (o: { graceSeconds: string; activateInSeconds: string }, cmd: Command) => {
        const r = await client().op(
          ROUTES.rotateCiteKey,
          { body: { grace_seconds: Number(o.graceSeconds), activate_in_seconds: Number(o.activateInSeconds) } },
          progressPrinter(),
        );
        if (json(cmd)) return void printJson(r);
        process.stdout.write(
          `new cite key ${r.new_key_id} signs from ${r.signs_from}; pinned into ${r.pinned} profiles\n` +
            (r.retiring_key_id ? `old key ${r.retiring_key_id} is refused after ${r.retiring_not_after}\n` : ""),
        );
      }),
    );
  mcp
    .command("check")
    .description("the plan's section 2.1 checklist: tools list, trade_cal refresh, new daily data, warehouse routes")
    .option("--url <url>", "data service base URL", "http://127.0.0.1:9100")
    .addHelpText("after", "\nExample:\n  hermes-admin mcp check --json")
    .action(
      action(async (o: { url: string }, cmd: Command) => {
        const c = cfg();
        const argv = [join(c.appDir, "mcp", "tushare", "dist", "cli.js"), "check", "--url", o.url, "--data-dir", c.mcp.dataDir];
        if (json(cmd)) argv.push("--json");
        const r = spawnSync(process.execPath, argv, { stdio: "inherit" });
        return r.status === 0 ? EXIT.ok : r.status === 2 ? EXIT.usage : EXIT.checkFailed;
      }),
    );

  program
    .command("compose")
    .description("print a compose service equivalent to a profile's container spec")
    .argument("<name>")
    .action(
      action(async (name: string, _o: unknown, cmd: Command) => {
        const text = await client().call(ROUTES.profileCompose, { params: { name } });
        if (json(cmd)) return void printJson({ profile: name, compose: text });
        process.stdout.write(text);
      }),
    );

  program
    .command("orphans")
    .description("containers with our labels but no registry row; --remove deletes them (nothing unlabelled is touched)")
    .option("--remove", "remove the orphans")
    .action(
      action(async (o: { remove?: boolean }, cmd: Command) => {
        const r = o.remove ? await client().call(ROUTES.removeOrphans, {}) : await client().call(ROUTES.orphans, {});
        if (json(cmd)) return void printJson(r);
        const list = "removed" in r ? r.removed : r.orphans;
        process.stdout.write(list.length ? `${list.map((x) => x.name).join("\n")}\n` : "no orphans\n");
      }),
    );

  program
    .command("verify")
    .description("the plan's Phase 0: data service, the five test profiles, the verification checklist (table + JSON)")
    .option("--cleanup", "remove the test profiles afterwards")
    .option("--mcp-url <url>", "data service base URL", "http://127.0.0.1:9100")
    .addHelpText(
      "after",
      "\nExample:\n  hermes-admin verify            # report in ops/verify/report.json; exit 8 when a check fails",
    )
    .action(
      action(async (o: { cleanup?: boolean; mcpUrl: string }, cmd: Command) => {
        const quiet = json(cmd);
        const say = (l: string) => process.stderr.write(`${l}\n`);
        const c = client();
        say("data service");
        await c.op(ROUTES.buildImages, { body: {} }, progressPrinter());
        await c.op(ROUTES.mcpUp, { body: { wait_seeded_ms: 120_000 } }, progressPrinter());
        // the checklist's modules (and the contract they use) load only for `verify`
        const { runVerify } = await import("../verify/run.js");
        const { renderReport } = await import("../verify/report.js");
        const report = await runVerify({
          cfg: cfg(),
          fleet: c,
          say,
          progress: progressPrinter(),
          cleanup: Boolean(o.cleanup),
          mcpBaseUrl: o.mcpUrl,
        });
        if (quiet) printJson(report);
        else process.stdout.write(`${renderReport(report)}\nreport: ${join(cfg().opsDir, "verify", "report.json")}\n`);
        return report.ok ? EXIT.ok : EXIT.checkFailed;
      }),
    );
}
