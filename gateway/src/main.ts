#!/usr/bin/env node
/**
 * `twilight-gateway serve` runs the gateway from its environment (see config.ts); `twilight-gateway sim` runs the
 * OpenAI-protocol upstream simulator (`--port`, `--key-file`, `--latency-ms`, `--token-delay-ms`).
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { createLogger, isDomainError } from "@twilight/core";
import { startGateway } from "./app.js";
import { gatewayConfig } from "./config.js";
import { UpstreamSimulator } from "./simulator.js";

const HELP = `usage: twilight-gateway serve | sim [options]

  serve   the model gateway; configuration from the environment:
          GATEWAY_DATA_DIR (required: keys.json, usage.db, admin-token, upstream.env), GATEWAY_HOST, GATEWAY_PORT,
          GATEWAY_SECRET_FILE, GATEWAY_UPSTREAM_SLOTS, GATEWAY_RETRIES, GATEWAY_LIMITS, GATEWAY_PRICES, LOG_LEVEL
  sim     an OpenAI-protocol upstream for tests and demos
          --port N (default 9290) --host H --key-file F (its API key; required) --latency-ms N --token-delay-ms N --json

examples:
  GATEWAY_DATA_DIR=ops/gateway twilight-gateway serve
  twilight-gateway sim --port 9290 --key-file ops/gateway-sim/key --json
`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h") {
    process.stdout.write(HELP);
    return cmd ? 0 : 2;
  }
  const log = createLogger(cmd === "sim" ? "gateway-sim" : "gateway");
  if (cmd === "serve") {
    const g = await startGateway(gatewayConfig(), { log });
    const stop = () => void g.close().then(() => process.exit(0));
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    return -1;
  }
  if (cmd === "sim") {
    const { values } = parseArgs({
      args: rest,
      options: {
        port: { type: "string", default: "9290" },
        host: { type: "string", default: "127.0.0.1" },
        "key-file": { type: "string" },
        "latency-ms": { type: "string", default: "0" },
        "token-delay-ms": { type: "string", default: "0" },
        json: { type: "boolean", default: false },
      },
    });
    if (!values["key-file"]) throw new Error("--key-file is required");
    const sim = new UpstreamSimulator({
      apiKey: readFileSync(values["key-file"], "utf8").trim(),
      host: values.host,
      port: Number(values.port),
      latencyMs: Number(values["latency-ms"]),
      tokenDelayMs: Number(values["token-delay-ms"]),
    });
    const url = await sim.start();
    if (values.json) process.stdout.write(`${JSON.stringify({ url })}\n`);
    else log.info({ url }, "upstream simulator listening");
    process.once("SIGTERM", () => void sim.close().then(() => process.exit(0)));
    return -1;
  }
  process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n${HELP}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e) => {
    process.stderr.write(
      `${isDomainError(e) ? `${e.message}${e.hint ? `\nhint: ${e.hint}` : ""}` : String((e as Error).stack ?? e)}\n`,
    );
    process.exit(isDomainError(e) && e.code === "CONFIG_INVALID" ? 3 : 1);
  },
);
