/** Day-2 verbs: backup, backups, restore, export, import, unfence, backup-key. Thin: the daemon does the work. */
import { resolve } from "node:path";
import { TIERS, type Tier } from "@twilight/core/names";
import { type Command, Option } from "commander";
import type { FleetClient } from "../client/client.js";
import type { ResponseOf } from "../contract/routes.js";
import { bytes, progressPrinter, table } from "../lib/format.js";
import { ROUTES } from "./lazy.js";
import { action, type GlobalOpts, printJson } from "./run.js";

type Client = () => FleetClient;
const json = (cmd: Command) => Boolean(cmd.optsWithGlobals<GlobalOpts>().json);

function printBackup(r: { file: string; bytes: number; files: number; skipped: unknown[]; sha256: string; ms: number }) {
  process.stdout.write(
    `${r.file}\n  ${bytes(r.bytes)}, ${r.files} entries, ${r.skipped.length} skipped, ${r.ms} ms, sha256 ${r.sha256.slice(0, 16)}...\n`,
  );
}

export function day2Commands(program: Command, client: Client): void {
  program
    .command("backup")
    .description("write an encrypted, authenticated archive of a profile (state.db snapshot, files, secrets, manifest)")
    .argument("<name>")
    .option("--out <file>", "the archive to write (never overwritten); default ops/backups/<name>@<stamp>.age")
    .option("--to <recipient>", "also encrypt to this age recipient (repeatable)", (v, a: string[]) => [...a, v], [])
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin backup user-42\n  hermes-admin backup user-42 --out /var/backups/user-42.age --json\n\nThe archive is encrypted to this fleet's key (ops/backup-key, root-only): keep a copy of that key off the host.",
    )
    .action(
      action(async (name: string, o: { out?: string; to: string[] }, cmd: Command) => {
        if (!json(cmd)) process.stderr.write(`backing up ${name}\n`);
        const r = await client().op(
          ROUTES.backupProfile,
          { params: { name }, body: { ...(o.out ? { out: resolve(o.out) } : {}), ...(o.to.length ? { to: o.to } : {}) } },
          progressPrinter(),
        );
        if (json(cmd)) return void printJson(r);
        printBackup(r);
      }),
    );

  program
    .command("backups")
    .description("list the archives in ops/backups/, newest first")
    .argument("[name]", "only this profile's")
    .addHelpText("after", "\nExamples:\n  hermes-admin backups\n  hermes-admin backups user-42 --json")
    .action(
      action(async (name: string | undefined, _o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.listBackups, { query: name ? { profile: name } : {} });
        if (json(cmd)) return void printJson(r);
        if (r.backups.length === 0) return void process.stdout.write("no backups (make one: hermes-admin backup <name>)\n");
        process.stdout.write(
          `${table(
            ["PROFILE", "CREATED", "SIZE", "FILE"],
            r.backups.map((b) => [b.profile, b.created_at, bytes(b.bytes), b.file]),
          )}\n`,
        );
      }),
    );

  for (const verb of ["restore", "import"] as const)
    program
      .command(verb)
      .description(
        verb === "restore"
          ? "restore a profile from an archive, under its own or a new name, on either tier"
          : "import a profile exported by another fleet (same archive format as restore)",
      )
      .argument("<file>")
      .option("--as <name>", "restore under this name")
      .addOption(new Option("--tier <tier>", "run it on this tier (default: the archived one)").choices([...TIERS]))
      .option("--rotate-secrets", "generate new secrets instead of the archived ones")
      .option("--force", "restore over an existing profile (it is backed up and removed first)")
      .addHelpText(
        "after",
        verb === "restore"
          ? "\nExamples:\n  hermes-admin restore ops/backups/user-42@20261201T101500Z.age\n  hermes-admin restore /var/backups/user-42.age --as user-42b --tier container --json"
          : "\nExamples:\n  hermes-admin import /srv/incoming/user-42.age\n  hermes-admin import /srv/incoming/user-42.age --tier container",
      )
      .action(
        action(
          async (file: string, o: { as?: string; tier?: string; rotateSecrets?: boolean; force?: boolean }, cmd: Command) => {
            if (!json(cmd)) process.stderr.write(`${verb === "restore" ? "restoring" : "importing"} ${file}\n`);
            const r = await client().op(
              ROUTES.restoreProfile,
              {
                body: {
                  file: resolve(file),
                  ...(o.as ? { as: o.as } : {}),
                  ...(o.tier ? { tier: o.tier as Tier } : {}),
                  ...(o.rotateSecrets ? { rotate_secrets: true } : {}),
                  ...(o.force ? { force: true } : {}),
                },
              },
              progressPrinter(),
            );
            if (json(cmd)) return void printJson(r);
            const p = r.profile;
            process.stdout.write(
              `${verb === "restore" ? "restored" : "imported"} ${r.from} as ${p.name} (${p.tier}, ${p.status}) in ${r.ms} ms\n  status url ${p.status_url}\n`,
            );
          },
        ),
      );

  program
    .command("export")
    .description("archive a profile for another fleet, then stop and fence it here (it will not start until unfenced)")
    .argument("<name>")
    .requiredOption(
      "--to <recipient>",
      "the target fleet's recipient (run `hermes-admin backup-key` there)",
      (v, a: string[]) => [...a, v],
      [],
    )
    .option("--out <file>", "the archive to write; default ops/backups/<name>@<stamp>.age")
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin export user-42 --to age1... --out /srv/outgoing/user-42.age\n  (on the other host) hermes-admin import /srv/incoming/user-42.age",
    )
    .action(
      action(async (name: string, o: { out?: string; to: string[] }, cmd: Command) => {
        if (!json(cmd)) process.stderr.write(`exporting ${name}\n`);
        const r = await client().op(
          ROUTES.exportProfile,
          { params: { name }, body: { to: o.to, ...(o.out ? { out: resolve(o.out) } : {}) } },
          progressPrinter(),
        );
        if (json(cmd)) return void printJson(r);
        printBackup(r);
        process.stdout.write(`${name} is stopped and fenced on this host (hermes-admin unfence ${name} to undo)\n`);
      }),
    );

  program
    .command("unfence")
    .description("let an exported profile start on this host again (the two copies then diverge)")
    .argument("<name>")
    .addHelpText("after", "\nExample:\n  hermes-admin unfence user-42 && hermes-admin start user-42")
    .action(
      action(async (name: string, _o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.unfenceProfile, { params: { name } });
        if (json(cmd)) return void printJson(r);
        process.stdout.write(r.unfenced ? `${name} unfenced\n` : `${name} was not fenced\n`);
      }),
    );

  program
    .command("upgrade")
    .description("move every container profile to a runtime version, canaries first, gated; roll back on a failure")
    .requiredOption("--to <version>", "the runtime version (a tag of the fleet's profile image)")
    .option("--canary <n>", "profiles upgraded and gated before the rest", "1")
    .option("--max-unavailable <k>", "profiles switched at once after the canaries", "1")
    .option("--gate-timeout <ms>", "how long each gate (health + one query) may take")
    .option("--pause-on-failure", "a failed gate pauses the rollout (resume or abort it) instead of rolling back")
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin upgrade --to 0.2.0\n  hermes-admin upgrade --to 0.2.0 --canary 3 --max-unavailable 2 --json\n  hermes-admin upgrade --to 0.2.0 --pause-on-failure   # then: rollout status | resume | abort\n\nExit 0 when the rollout completed; 1 when a gate failed (rolled back, or paused with --pause-on-failure).",
    )
    .action(
      action(
        async (
          o: { to: string; canary: string; maxUnavailable: string; gateTimeout?: string; pauseOnFailure?: boolean },
          cmd: Command,
        ) => {
          if (!json(cmd)) process.stderr.write(`upgrading the fleet to ${o.to}\n`);
          const r = await client().op(
            ROUTES.upgradeFleet,
            {
              body: {
                to: o.to,
                canary: Number(o.canary),
                max_unavailable: Number(o.maxUnavailable),
                ...(o.gateTimeout ? { gate_timeout_ms: Number(o.gateTimeout) } : {}),
                ...(o.pauseOnFailure ? { pause_on_failure: true } : {}),
              },
            },
            progressPrinter(),
          );
          return upgradeOutcome(r, json(cmd));
        },
      ),
    );

  const rollout = program.command("rollout").description("the runtime rollout started by `hermes-admin upgrade`");
  rollout
    .command("status")
    .description("the rollout in progress (profile being switched, done, remaining) and the last one finished")
    .addHelpText("after", "\nExamples:\n  hermes-admin rollout status\n  hermes-admin rollout status --json")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.rolloutStatus, {});
        if (json(cmd)) return void printJson(r);
        if (r.running || r.paused)
          process.stdout.write(
            `${r.paused ? "PAUSED" : "rolling out"} ${r.image}: now ${r.current ?? "-"}, done ${r.upgraded?.join(", ") || "-"}, remaining ${r.remaining?.join(", ") || "-"}${r.aborting ? " (aborting)" : ""}\n` +
              (r.failed
                ? `  failed: ${r.failed.profile} at ${r.failed.step}: ${r.failed.error}\n  then: hermes-admin rollout resume (after fixing it) or hermes-admin rollout abort\n`
                : ""),
          );
        else process.stdout.write("no rollout in progress\n");
        if (r.last)
          process.stdout.write(
            `last: ${r.last.outcome} to ${r.last.image} (${r.last.upgraded.length} upgraded, ${r.last.rolled_back.length} rolled back)\n`,
          );
      }),
    );
  rollout
    .command("resume")
    .description("go on with a rollout paused at a failed gate (after fixing its cause): the failed profiles first")
    .addHelpText("after", "\nExample:\n  hermes-admin rollout resume")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().op(ROUTES.rolloutResume, {}, progressPrinter());
        return upgradeOutcome(r, json(cmd));
      }),
    );
  rollout
    .command("abort")
    .description("stop the rollout after the profile being switched, and roll back what it switched")
    .addHelpText("after", "\nExample:\n  hermes-admin rollout abort")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.rolloutAbort, {});
        if (json(cmd)) return void printJson(r);
        process.stdout.write(`${r.message}\n`);
      }),
    );

  program
    .command("backup-key")
    .description("print this fleet's backup recipient (what another fleet exports to)")
    .addHelpText("after", "\nExamples:\n  hermes-admin backup-key\n  hermes-admin backup-key --json")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.backupKey, {});
        if (json(cmd)) return void printJson(r);
        process.stdout.write(`${r.recipient}\n  identity: ${r.file} (root-only; keep a copy off this host)\n`);
      }),
    );
}

/** The printed result of an upgrade or resume; exit 1 when a gate failed (rolled back or paused). */
function upgradeOutcome(r: ResponseOf<typeof ROUTES.upgradeFleet>, asJson: boolean): number {
  if (asJson) printJson(r);
  else {
    process.stdout.write(
      `${r.outcome}: ${r.upgraded.length} upgraded to ${r.image}, ${r.rolled_back.length} rolled back, ${r.skipped.length} skipped (${r.ms} ms)\n`,
    );
    if (r.failed) process.stdout.write(`  failed: ${r.failed.profile} at ${r.failed.step}: ${r.failed.error}\n`);
    if (r.outcome === "paused")
      process.stdout.write("  paused: hermes-admin rollout resume (after fixing it) or hermes-admin rollout abort\n");
  }
  return r.outcome === "rolled-back" || r.outcome === "paused" ? 1 : 0;
}
