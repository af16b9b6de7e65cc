/** `hermes-admin swarm init|join-token|status` and `hermes-admin nodes`: the swarm tier's home. */
import type { Command } from "commander";
import type { FleetClient } from "../client/client.js";
import { bytes, progressPrinter, table } from "../lib/format.js";
import { EXIT } from "./exit-codes.js";
import { ROUTES } from "./lazy.js";
import { action, type GlobalOpts, printJson } from "./run.js";

type Client = () => FleetClient;
const json = (cmd: Command) => Boolean(cmd.optsWithGlobals<GlobalOpts>().json);

function swarmLine(s: { state: string; manager: boolean; node?: string; tier: boolean; nodes?: number }): string {
  return `swarm ${s.state}${s.manager ? " (manager)" : ""}${s.node ? `, this node: ${s.node}` : ""}${
    s.nodes !== undefined ? `, ${s.nodes} node(s)` : ""
  }; swarm tier ${s.tier ? "on" : "off"}\n`;
}

export function swarmCommands(program: Command, client: Client): void {
  const sw = program.command("swarm").description("the Docker swarm the swarm tier runs on (this host's engine)");
  sw.command("init")
    .description("make this host's engine a swarm manager (idempotent), label the node and start the swarm tier")
    .option("--advertise-addr <addr>", "address other nodes reach this one at")
    .addHelpText("after", "\nExamples:\n  hermes-admin swarm init\n  hermes-admin swarm init --advertise-addr 10.0.0.5")
    .action(
      action(async (o: { advertiseAddr?: string }, cmd: Command) => {
        const body = o.advertiseAddr ? { advertise_addr: o.advertiseAddr } : {};
        const r = await client().op(ROUTES.swarmInit, { body }, progressPrinter());
        if (json(cmd)) return void printJson(r);
        process.stdout.write(swarmLine(r));
      }),
    );
  sw.command("join-token")
    .description("the command that joins another host to this swarm as a worker (the token admits a node: keep it secret)")
    .addHelpText("after", "\nExample:\n  hermes-admin swarm join-token          # run the printed command on the new host")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.swarmJoinToken, {});
        if (json(cmd)) return void printJson(r);
        process.stdout.write(`${r.command}\n`);
      }),
    );
  sw.command("status")
    .description("the engine's swarm state and whether the fleet runs the swarm tier (exit 5 when it does not)")
    .addHelpText("after", "\nExample:\n  hermes-admin swarm status --json")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.swarmStatus, {});
        if (json(cmd)) printJson(r);
        else process.stdout.write(swarmLine(r));
        return r.tier ? EXIT.ok : EXIT.unavailable;
      }),
    );
  program
    .command("nodes")
    .description("swarm nodes: labels, state, memory, and the swarm profiles on each (exit 5 when a node is down)")
    .addHelpText("after", "\nExamples:\n  hermes-admin nodes\n  hermes-admin nodes --json")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.listNodes, {});
        if (json(cmd)) printJson(r);
        else if (r.nodes.length === 0) process.stdout.write(swarmLine(r.swarm));
        else
          process.stdout.write(
            `${table(
              ["NODE", "HOSTNAME", "ROLE", "STATE", "AVAIL", "ADDR", "CPUS", "MEMORY", "FREE", "HEADROOM", "PROFILES"],
              r.nodes.map((n) => [
                `${n.name || "-"}${n.self ? " *" : ""}`,
                n.hostname,
                n.role,
                n.state,
                n.availability,
                n.addr,
                n.cpus,
                bytes(n.memory_bytes),
                n.free_bytes === null ? "-" : bytes(n.free_bytes),
                bytes(n.headroom_bytes),
                n.profiles.length ? n.profiles.join(",") : "-",
              ]),
            )}\n${r.nodes
              .filter((n) => n.placeable)
              .map((n) => `  ${n.name || n.id.slice(0, 12)}: takes no new profile: ${n.placeable}\n`)
              .join("")}`,
          );
        return r.nodes.every((n) => n.state === "ready") ? EXIT.ok : EXIT.unavailable;
      }),
    );

  program
    .command("move")
    .description(
      "move a swarm profile and its directory to another node while in use: copy, stop here, sync, start there, switch the front door; the old directory is kept root-only on its node",
    )
    .argument("<name>")
    .requiredOption("--to-node <node>", "the node's fleet name (`hermes-admin nodes`)")
    .option("--drain-timeout <ms>", "how long in-flight requests may take to finish before the source stops")
    .option(
      "--from-lost-node",
      "the profile's node is down for good: fence its task, copy the directory from where the fleet reaches it, start it here",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin move user-42 --to-node node-b\n  hermes-admin move user-42 --to-node node-a --json   # and back\n  hermes-admin move user-42 --to-node node-a --from-lost-node   # node-b died",
    )
    .action(
      action(async (name: string, o: { toNode: string; drainTimeout?: string; fromLostNode?: boolean }, cmd: Command) => {
        if (!json(cmd)) process.stderr.write(`moving ${name} to node ${o.toNode}\n`);
        const r = await client().op(
          ROUTES.moveProfile,
          {
            params: { name },
            body: {
              node: o.toNode,
              ...(o.drainTimeout ? { drain_timeout_ms: Number(o.drainTimeout) } : {}),
              ...(o.fromLostNode ? { from_lost_node: true } : {}),
            },
          },
          progressPrinter(),
        );
        if (json(cmd)) return void printJson(r);
        process.stdout.write(
          `${r.message}\n  pause ${r.pause_ms} ms, longest held request ${r.held_ms} ms, total ${r.total_ms} ms; ` +
            `copied ${r.copied.files} files (${bytes(r.copied.bytes)}), then ${r.copied.final_files} changed\n` +
            (r.kept
              ? `  old directory kept at ${r.kept} on ${r.from_node} (root only): remove it when you no longer need it\n`
              : ""),
        );
      }),
    );
}
