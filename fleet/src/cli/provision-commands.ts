/**
 * Billing's transports into the fleet, on the fleet's side: `provision --stdin` (the SSH forced command: one JSON
 * request in, one JSON answer out, nothing else possible), `ssh authorize` (the authorized_keys line that restricts a
 * deploy key to it) and `provision-key create` (the HMAC credential for the HTTP transport).
 */
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { InputInvalid } from "@twilight/core/errors";
import { formatIssues } from "@twilight/core/validation";
import type { Command } from "commander";
import type { FleetClient } from "../client/client.js";
import type { FleetConfig } from "../config.js";
import { loadContract, ROUTES } from "./lazy.js";
import { action, fail, type GlobalOpts, printJson } from "./run.js";

type Client = () => FleetClient;

/** The authorized_keys line for a deploy key that can only run `provision --stdin` (no shell, tty, forwarding). */
export function authorizedKeysLine(pubkey: string, command: string): string {
  const k = pubkey.trim();
  if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}( [^\n"]{0,200})?$/.test(k))
    throw new InputInvalid("not an OpenSSH public key line (ssh-ed25519 AAAA... [comment])");
  if (/["\\\n]/.test(command)) throw new InputInvalid("the forced command cannot contain quotes, backslashes or newlines");
  return `restrict,command="${command}" ${k}`;
}

async function readStdin(max = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) throw new InputInvalid(`the request on stdin is larger than ${max} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export async function provisionFromStdin(client: FleetClient, text: string): Promise<unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputInvalid(`stdin is not one JSON request: ${(e as Error).message}`);
  }
  await loadContract();
  const { ProvisionRequest } = await import("../contract/provision.js");
  const r = ProvisionRequest.safeParse(json);
  if (!r.success) throw new InputInvalid(`invalid provisioning request: ${formatIssues(r.error.issues)}`);
  const req = r.data;
  const headers = req.idempotency_key ? { "idempotency-key": req.idempotency_key } : undefined;
  if ("action" in req) {
    if (req.action === "stop") return { stopped: await client.op(ROUTES.stopProfile, { params: { name: req.name } }) };
    return await client.call(ROUTES.removeProfile, { params: { name: req.name }, query: { force: "1" } });
  }
  return await client.op(ROUTES.spawnProfile, {
    params: { name: req.name },
    body: { tier: req.tier, plan: req.plan ?? null, user_id: req.user_id ?? null, set: req.set },
    ...(headers ? { headers } : {}),
  });
}

export function provisionCommands(program: Command, cfg: () => FleetConfig, client: Client, entry: string): void {
  program
    .command("provision")
    .description("billing's SSH transport: read one JSON provisioning request on stdin, print one JSON answer")
    .requiredOption("--stdin", "read the request from standard input (the only mode)")
    .addHelpText(
      "after",
      '\nInput:  {"name","tier","plan","user_id","set":{...},"idempotency_key"} or {"action":"stop"|"delete","name"}\nOutput: {"created","profile","connection"} (exit 0) or {"error":{code,message,hint}} (exit 2-7)\n\nExample:\n  echo \'{"name":"tw-42","tier":"prefab","plan":"basic","idempotency_key":"ord_42"}\' | hermes-admin provision --stdin',
    )
    .action(async () => {
      try {
        await loadContract();
        const out = await provisionFromStdin(client(), await readStdin());
        process.stdout.write(`${JSON.stringify(out)}\n`);
        process.exitCode = 0;
      } catch (e) {
        process.exitCode = fail(e, true);
      }
    });

  const ssh = program.command("ssh").description("the SSH transport for billing");
  ssh
    .command("authorize")
    .description("print the authorized_keys line that lets a deploy key run `provision --stdin` and nothing else")
    .argument("<pubkey>", "the public key line, or @FILE to read it from a file")
    .addHelpText("after", "\nExample:\n  hermes-admin ssh authorize @billing_ed25519.pub >> ~twilight/.ssh/authorized_keys")
    .action(
      action(async (pubkey: string, _o: unknown, cmd: Command) => {
        const key = pubkey.startsWith("@") ? readFileSync(pubkey.slice(1), "utf8") : pubkey;
        const ops = cfg().opsDir;
        const node = process.execPath;
        if (!isAbsolute(entry) || !isAbsolute(node)) throw new InputInvalid("cannot build an absolute forced command here");
        const command = `/usr/bin/env TWILIGHT_OPS_DIR=${ops} ${node} ${entry} provision --stdin`;
        const line = authorizedKeysLine(key, command);
        if (cmd.optsWithGlobals<GlobalOpts>().json) return void printJson({ line });
        process.stdout.write(`${line}\n`);
      }),
    );

  const pk = program.command("provision-key").description("HMAC credentials for billing's HTTP transport");
  pk.command("create")
    .description("create a credential that can only provision (PUT /v1/profiles/{name}); the secret is printed once")
    .argument("<key-id>")
    .addHelpText(
      "after",
      `\nExample:\n  hermes-admin provision-key create billing-1 --json > ${join("/etc", "twilight", "billing-key.json")}`,
    )
    .action(
      action(async (keyId: string, _o: unknown, cmd: Command) => {
        const r = await client().call(ROUTES.createProvisionKey, { body: { key_id: keyId } });
        if (cmd.optsWithGlobals<GlobalOpts>().json) return void printJson(r);
        process.stdout.write(
          `key id: ${r.key_id}\nsecret: ${r.secret}\n(shown once: store it in billing's FLEET_KEY_SECRET_FILE)\n`,
        );
      }),
    );
}
