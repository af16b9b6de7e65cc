import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Command } from "commander";
import { bashCompletion, commandTree, zshCompletion } from "./completion.js";

function program(): Command {
  const p = new Command("hermes-admin");
  p.command("list").alias("ls").option("--no-stats", "").option("--names", "");
  p.command("logs").argument("<name>").option("-f, --follow", "").option("-n, --tail <n>", "");
  p.command("spawn").argument("<name>").option("--tier <tier>", "");
  const mcp = p.command("mcp");
  mcp.command("up").option("--wait-seeded <s>", "");
  mcp.command("status");
  p.command("hidden-one", { hidden: true });
  return p;
}

/** Run the completion function in real bash for the words typed so far; a fake `hermes-admin` lists two profiles. */
function complete(script: string, typed: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), "compl-"));
  try {
    writeFileSync(join(dir, "hermes-admin"), '#!/bin/sh\n[ "$1 $2" = "list --names" ] && printf "alpha-1\\nbeta-2\\n"\n');
    chmodSync(join(dir, "hermes-admin"), 0o755);
    writeFileSync(join(dir, "c.sh"), script);
    const words = typed.map((w) => `'${w}'`).join(" ");
    const r = spawnSync(
      "bash",
      [
        "-c",
        `source c.sh; COMP_WORDS=(${words}); COMP_CWORD=${typed.length - 1}; _hermes_admin_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { cwd: dir, encoding: "utf8", env: { PATH: `${dir}:${process.env.PATH}` } },
    );
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split("\n").filter(Boolean).sort();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("shell completion from the CLI's own command tree", () => {
  const tree = commandTree(program());
  const script = bashCompletion("hermes-admin", tree);

  it("walks commands, aliases, options and subcommands; hidden commands stay hidden", () => {
    assert.deepEqual(
      tree.map((n) => n.name),
      ["list", "logs", "spawn", "mcp"],
    );
    assert.deepEqual(tree[0]?.aliases, ["ls"]);
    assert.equal(tree[1]?.takesProfile, true);
    assert.equal(tree[0]?.takesProfile, false);
    assert.deepEqual(
      tree[3]?.subcommands.map((s) => s.name),
      ["up", "status"],
    );
  });

  it("bash completes commands, options, subcommands and profile names", () => {
    assert.deepEqual(complete(script, ["hermes-admin", "l"]), ["list", "logs", "ls"]);
    assert.deepEqual(complete(script, ["hermes-admin", "logs", "--"]), ["--follow", "--help", "--json", "--tail"]);
    assert.deepEqual(complete(script, ["hermes-admin", "logs", ""]), ["alpha-1", "beta-2"]);
    assert.deepEqual(complete(script, ["hermes-admin", "logs", "b"]), ["beta-2"]);
    assert.deepEqual(complete(script, ["hermes-admin", "mcp", ""]), ["status", "up"]);
    assert.deepEqual(complete(script, ["hermes-admin", "mcp", "up", "--w"]), ["--wait-seeded"]);
    assert.deepEqual(complete(script, ["hermes-admin", "list", ""]), [], "list takes no profile name");
  });

  it("the scripts parse (bash -n), and zsh's wraps the same function with bashcompinit", () => {
    const r = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const z = zshCompletion("hermes-admin", tree);
    assert.match(z, /bashcompinit/);
    assert.match(z, /complete -F _hermes_admin_complete hermes-admin/);
  });
});
