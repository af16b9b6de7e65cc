/** Watching the fleet from the terminal: `prometheus config` (scrape config for an existing Prometheus) and `top`. */
import { resolve } from "node:path";
import type { Command } from "commander";
import type { FleetClient } from "../client/client.js";
import { fleetSignals, parsePromText, type Sample } from "../dashboard/prom-text.js";
import { renderTop } from "../dashboard/top.js";
import { buildView, DEFAULT_THRESHOLDS, type PollRecord, remember } from "../dashboard/view-model.js";
import { writeBundle } from "../observability/files.js";
import type { BundleFile } from "../observability/prometheus-config.js";
import { ROUTES } from "./lazy.js";
import { action, type GlobalOpts, printJson } from "./run.js";

type Client = () => FleetClient;
const json = (cmd: Command) => Boolean(cmd.optsWithGlobals<GlobalOpts>().json);

export function observeCommands(program: Command, client: Client): void {
  const prom = program.command("prometheus").description("Prometheus: the scrape config for an existing server");
  prom
    .command("config")
    .description(
      "print prometheus.yml (or write it and the alert rules under --out DIR); the daemon keeps the file_sd targets and the metrics-only scrape token",
    )
    .option("--out <dir>", "write prometheus.yml and rules/twilight.rules.yml under this directory")
    .option("--fleet-address <host:port>", "where Prometheus reaches the daemon (default: the daemon's own address)")
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin prometheus config                       # print prometheus.yml\n  hermes-admin prometheus config --out /etc/prometheus  # then: promtool check config /etc/prometheus/prometheus.yml\n\nThe scrape token file it names can read /metrics and /p/<profile>/metrics only; give its group to prometheus.",
    )
    .action(
      action(async (o: { out?: string; fleetAddress?: string }, cmd: Command) => {
        const r = await client().call(ROUTES.prometheusConfig, { query: { fleet_address: o.fleetAddress } });
        const written = o.out
          ? writeBundle(resolve(o.out), new Map<string, BundleFile>(r.files.map((f) => [f.path, f])))
          : undefined;
        if (json(cmd)) return void printJson({ ...r, files: r.files.map((f) => f.path), written });
        if (!written) {
          process.stdout.write(r.files.find((f) => f.path === "prometheus.yml")?.content ?? "");
          return;
        }
        process.stdout.write(
          `${written.map((p) => `wrote ${p}`).join("\n")}\nscrape token: ${r.token_file}\ntargets (file_sd, kept current by the daemon): ${r.targets_file}\ndashboard: ${r.dashboard_url}\n`,
        );
      }),
    );

  program
    .command("top")
    .description("the dashboard's fleet table, live in the terminal (worst first; q or Ctrl-C quits)")
    .option("-n, --interval <seconds>", "seconds between refreshes", "2")
    .option("--once", "print one table (two polls, for rates) and exit")
    .addHelpText("after", "\nExamples:\n  hermes-admin top\n  hermes-admin top --once --json   # the view model as JSON")
    .action(
      action(async (o: { interval: string; once?: boolean }, cmd: Command) => {
        const c = client();
        const every = Math.max(0.5, Number(o.interval) || 2) * 1000;
        let history: PollRecord[] = [];
        let prev: { at: number; samples: Sample[] } | undefined;
        const poll = async () => {
          const now = Date.now();
          const [list, text] = await Promise.all([
            c.call(ROUTES.listProfiles, { query: { stats: "1" } }),
            c.call(ROUTES.metrics, {}),
          ]);
          const samples = parsePromText(text);
          const signals = fleetSignals(samples, prev?.samples, prev ? (now - prev.at) / 1000 : undefined);
          prev = { at: now, samples };
          history = remember(history, list.profiles, now, DEFAULT_THRESHOLDS.windowMs);
          return buildView(list.profiles, { signals, history });
        };
        const tty = Boolean(process.stdout.isTTY);
        if (o.once || !tty) {
          await poll();
          await new Promise((r) => setTimeout(r, Math.min(every, 1000)));
          const view = await poll();
          if (json(cmd)) return void printJson(view);
          process.stdout.write(`${renderTop(view, { width: process.stdout.columns ?? 120 })}\n`);
          return;
        }
        const color = !process.env.NO_COLOR;
        let stop = false;
        const quit = () => {
          stop = true;
        };
        process.once("SIGINT", quit);
        if (process.stdin.isTTY) {
          process.stdin.setRawMode(true);
          process.stdin.resume();
          process.stdin.on("data", (b: Buffer) => {
            if (b[0] === 0x71 || b[0] === 0x03) quit();
          });
        }
        try {
          while (!stop) {
            const view = await poll();
            process.stdout.write(
              `\u001b[H\u001b[2J${renderTop(view, { width: process.stdout.columns, color, maxRows: (process.stdout.rows ?? 40) - 4 })}\n`,
            );
            for (let waited = 0; waited < every && !stop; waited += 100) await new Promise((r) => setTimeout(r, 100));
          }
        } finally {
          if (process.stdin.isTTY) {
            process.stdin.setRawMode(false);
            process.stdin.pause();
          }
          process.removeListener("SIGINT", quit);
        }
      }),
    );
}
