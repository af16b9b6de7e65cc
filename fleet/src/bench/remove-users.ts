#!/usr/bin/env node
/** Bench helper: remove (force, purge) the profiles whose user_id starts with a prefix (what a billing bench made). */
import { FleetClient } from "../client/client.js";
import { fleetConfig } from "../config.js";
import { ROUTES } from "../contract/routes.js";

const prefix = process.argv[2];
if (!prefix) {
  process.stderr.write("usage: remove-users.js <user-id prefix>\n");
  process.exit(2);
}
const client = FleetClient.fromConfig(fleetConfig());
let n = 0;
for (const p of (await client.call(ROUTES.listProfiles, {})).profiles) {
  if (!p.user_id?.startsWith(prefix)) continue;
  await client.call(ROUTES.removeProfile, { params: { name: p.name }, query: { force: "1", purge: "1" } });
  n++;
}
process.stderr.write(`removed ${n} profiles of users ${prefix}*\n`);
