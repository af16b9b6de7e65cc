/**
 * Stand-alone entry of the image builder, for scripts/deploy/build-images.sh (the same as `hermes-admin images build`):
 *   node fleet/dist/images/main.js [--only profile,mcp,fleet] [--base-image node:20-bookworm-slim] [--force] [--json]
 */
import { parseArgs } from "node:util";
import { isDomainError } from "@twilight/core";
import { type AppImageKind, buildImages } from "./builder.js";

const KINDS: AppImageKind[] = ["profile", "mcp", "fleet"];

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      "base-image": { type: "string" },
      force: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
    },
  });
  const only = values.only?.split(",").map((s) => s.trim()) as AppImageKind[] | undefined;
  const bad = only?.filter((k) => !KINDS.includes(k));
  if (bad?.length) {
    process.stderr.write(`unknown image kind: ${bad.join(", ")} (expected ${KINDS.join(", ")})\n`);
    return 2;
  }
  const report = await buildImages({
    only,
    baseImage: values["base-image"],
    force: values.force,
    onProgress: values.json ? () => {} : (s) => process.stderr.write(`${s}\n`),
  });
  if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else {
    for (const i of report.images)
      process.stdout.write(
        `${i.ref}\t${i.id.slice(7, 19)}\t${(i.sizeBytes / 1e6).toFixed(1)} MB\t${i.skipped ? "up to date" : "built"}\t${i.seconds}s\n`,
      );
    process.stdout.write(`done in ${report.seconds}s\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (isDomainError(e)) process.stderr.write(`error: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ""}\n`);
    else process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
