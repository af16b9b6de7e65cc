/**
 * Benchmark: backup and restore of a profile holding 1,000 messages (500 turns over 50 sessions), beside a plain
 * `tar czf` / `tar xzf` of the same directory (no snapshot, no encryption, no checks, no registry or start). Prints
 * times, archive sizes and ratios. Usage: node fleet/dist/bench/backup.js [turns=500] [rounds=3]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fleetHarness } from "../testing/harness.js";
import { ProfileClient } from "../verify/profile-client.js";
import { median } from "./stats.js";

const turns = Number(process.argv[2] ?? 500);
const rounds = Number(process.argv[3] ?? 3);
const h = await fleetHarness({ LOG_LEVEL: "warn", FLEET_PORT_RANGE: "19860-19889", FLEET_UID_RANGE: "61200-61299" });
const scratch = mkdtempSync("/tmp/twl-bench-backup-");
try {
  await h.startDaemon();
  const s = await h.cliAsync(["spawn", "bench-bk", "--tier", "prefab"]);
  if (s.code !== 0) throw new Error(s.stderr);
  const row = h.cliJson<{ profiles: Array<{ profile_path: string }> }>(["list", "--no-stats"]).profiles[0];
  if (!row) throw new Error("no profile");
  const client = new ProfileClient("bench-bk", h.url, row.profile_path);
  const t0 = performance.now();
  const perSession = 10;
  const sessions = Math.ceil(turns / perSession);
  await Promise.all(
    Array.from({ length: 4 }, async (_, w) => {
      for (let i = w; i < sessions; i += 4) {
        let sid: string | undefined;
        for (let j = 0; j < perSession && i * perSession + j < turns; j++) {
          const a = await client.chat(`hello, question ${i}.${j}: what can you do for me today?`, sid);
          if (a.status !== 200) throw new Error(`chat failed: ${a.status} ${a.error}`);
          sid = a.sessionId;
        }
      }
    }),
  );
  console.log(`filled ${turns} turns (${turns * 2} messages) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const backup: number[] = [];
  const restore: number[] = [];
  const tarC: number[] = [];
  const tarX: number[] = [];
  let size = 0;
  let tarSize = 0;
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    const b = await h.cliAsync(["backup", "bench-bk", "--json"]);
    backup.push(performance.now() - t);
    if (b.code !== 0) throw new Error(b.stderr);
    const out = JSON.parse(b.stdout) as { file: string; bytes: number; state_db_bytes: number };
    size = out.bytes;
    t = performance.now();
    const rs = await h.cliAsync(["restore", out.file, "--as", `bench-rs-${r}`, "--json"]);
    restore.push(performance.now() - t);
    if (rs.code !== 0) throw new Error(rs.stderr);
    await h.cliAsync(["rm", `bench-rs-${r}`, "--force", "--purge"]);
    const tgz = join(scratch, `plain-${r}.tgz`);
    t = performance.now();
    const c = spawnSync("tar", ["czf", tgz, "-C", dirname(row.profile_path), "bench-bk"]);
    tarC.push(performance.now() - t);
    if (c.status !== 0) throw new Error(c.stderr.toString());
    tarSize = statSync(tgz).size;
    const into = mkdtempSync(join(scratch, "x-"));
    t = performance.now();
    const x = spawnSync("tar", ["xzf", tgz, "-C", into]);
    tarX.push(performance.now() - t);
    if (x.status !== 0) throw new Error(x.stderr.toString());
  }
  const f = (n: number) => `${n.toFixed(0)} ms`;
  console.log(`backup/restore of a profile with ${turns * 2} messages, median of ${rounds} (2 shared cores):`);
  console.log(`  hermes-admin backup   ${f(median(backup))}  archive ${(size / 1024).toFixed(1)} KiB (age-encrypted tar)`);
  console.log(`  tar czf (plain)       ${f(median(tarC))}  archive ${(tarSize / 1024).toFixed(1)} KiB (gzip, plaintext)`);
  console.log(`  hermes-admin restore  ${f(median(restore))}  (verify, new dir + uid + row + token, start, healthy)`);
  console.log(`  tar xzf (plain)       ${f(median(tarX))}  (files only: nothing registered or started)`);
  console.log(
    `  ratios: backup / tar czf ${(median(backup) / median(tarC)).toFixed(1)}x, size ${(size / tarSize).toFixed(2)}x; restore / tar xzf ${(median(restore) / median(tarX)).toFixed(1)}x`,
  );
  console.log(
    JSON.stringify({
      bench: "backup",
      messages: turns * 2,
      rounds,
      backup_ms: backup,
      restore_ms: restore,
      tar_czf_ms: tarC,
      tar_xzf_ms: tarX,
      archive_bytes: size,
      tgz_bytes: tarSize,
    }),
  );
} finally {
  await h.cleanup();
  rmSync(scratch, { recursive: true, force: true });
}
