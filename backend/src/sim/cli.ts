#!/usr/bin/env node
/**
 * `wechatpay-sim [--keys FILE] [--port N] [--host H] [--mode public_key|certificate] [--time-scale N]`
 * Runs the WeChat Pay APIv3 simulator. With --keys FILE, the key file is read, or generated and written when absent
 * (point the backend's WECHATPAY_* settings at it). Prints one JSON line `{url, keys, mode}` when listening.
 */
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { generateSimKeys, readSimKeys, writeSimKeys } from "./keys.js";
import { type PlatformMode, WechatPaySim } from "./server.js";

const { values } = parseArgs({
  options: {
    keys: { type: "string" },
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    mode: { type: "string", default: "public_key" },
    "time-scale": { type: "string", default: "1" },
  },
});
const mode = values.mode as PlatformMode;
if (mode !== "public_key" && mode !== "certificate") {
  process.stderr.write("--mode must be public_key or certificate\n");
  process.exit(2);
}
let keys = values.keys && existsSync(values.keys) ? readSimKeys(values.keys) : undefined;
if (!keys) {
  keys = generateSimKeys();
  if (values.keys) writeSimKeys(values.keys, keys);
}
const sim = new WechatPaySim({
  keys,
  mode,
  host: values.host,
  port: Number(values.port),
  timeScale: Number(values["time-scale"]),
});
const url = await sim.listen();
process.stdout.write(`${JSON.stringify({ url, keys: values.keys ?? null, mode, mchid: keys.mchid, appid: keys.appid })}\n`);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void sim.close().then(() => process.exit(0)));
