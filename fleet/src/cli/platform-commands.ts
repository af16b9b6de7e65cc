/** Host-platform verbs: images, the data service (mcp), compose, orphans, and the Phase 0 `verify`. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { Command } from "commander";
import type { FleetConfig } from "../config.js";
import { renderReport } from "../verify/report.js";
import { runVerify } from "../verify/run.js";
import type { FleetClient } from "./client.js";
import { EXIT } from "./exit-codes.js";
import { progressPrinter, table } from "./format.js";
import { action, type GlobalOpts, printJson } from "./run.js";

type Client = () => FleetClient;
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
        const r = await client().op<{
          version: string;
          seconds: number;
          images: Array<{ kind: string; ref: string; built?: boolean; sizeBytes?: number }>;
        }>("POST", "/v1/images/build", { force: Boolean(o.force) }, progressPrinter());
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
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().op<{ running: boolean; url?: string }>("POST", "/v1/mcp/up", undefined, progressPrinter());
        if (json(cmd)) return void printJson(r);
        process.stdout.write(`data service ${r.running ? "running" : "not running"}${r.url ? ` at ${r.url}` : ""}\n`);
      }),
    );
  mcp
    .command("down")
    .description("stop and remove the data-service container (its data directory is kept)")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().json<{ stopped: boolean }>("POST", "/v1/mcp/down");
        if (json(cmd)) return void printJson(r);
        process.stdout.write(r.stopped ? "data service stopped\n" : "data service was not running\n");
      }),
    );
  mcp
    .command("status")
    .description("container state and /health of the data service")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().json<{ running: boolean }>("GET", "/v1/mcp/status");
        if (json(cmd)) printJson(r);
        else process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        return r.running ? EXIT.ok : EXIT.unavailable;
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
        const text = await client().text("GET", `/v1/profiles/${encodeURIComponent(name)}/compose`);
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
        const r = o.remove
          ? await client().json<{ removed: Array<{ name: string }> }>("POST", "/v1/orphans/remove")
          : await client().json<{ orphans: Array<{ name: string; profile: string; running: boolean }> }>("GET", "/v1/orphans");
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
        await c.op("POST", "/v1/images/build", {}, progressPrinter());
        await c.op("POST", "/v1/mcp/up", undefined, progressPrinter());
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
