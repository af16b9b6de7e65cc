/**
 * Issue 9, the tenant boundary, attacked as a hostile tenant would (prefab tier): links planted in the profile
 * directory, a removed tenant's data and processes reaching the next tenant on the same uid, plans and secrets that
 * bend the fleet. Each test does the attack and asserts it fails.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chownSync, existsSync, lchownSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pidsOfUid } from "../lib/proc.js";
import { limitsForPlan } from "../runtime/limits.js";
import { detectCgroups } from "../runtime/sandbox.js";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";

interface P {
  name: string;
  status: string;
  uid: number;
  gid: number;
  profile_path: string;
  last_error: string | null;
}

// every test runs twice: profiles started cold, and profiles given a runtime from the warm pool (each spawn waits for a
// ready pooled runtime and checks it got one): a pooled profile must give the same isolation results as a cold one
for (const poolSize of [0, 2]) {
  describe(`tenant boundary (prefab${poolSize ? ", spawned from the warm pool" : ""}): a profile is hostile code`, () => {
    let h: FleetHarness;
    const spawnPrefab = async (n: string, ...more: string[]) => {
      if (poolSize)
        await eventually(async () => ((await h.daemonHealth()).pool?.ready ?? 0) > 0, 20_000, "a ready pooled runtime");
      const r = h.cli(["spawn", n, "--tier", "prefab", ...more]);
      if (poolSize && r.code === 0) assert.match(r.stdout + r.stderr, /pooled=true/, `${n} was not given a pooled runtime`);
      return r;
    };
    const get = (n: string) => h.cliJson<{ profiles: P[] }>(["list", "--no-stats"]).profiles.find((p) => p.name === n);
    const sh = (n: string, script: string) => h.cli(["exec", n, "--json", "--", "sh", "-c", script]);
    const key = (n: string) => JSON.parse(sh(n, "printenv API_SERVER_KEY").stdout).stdout.trim() as string;

    before(async () => {
      h = await fleetHarness({
        FLEET_RESTART_MAX_TRIES: "2",
        FLEET_RESTART_BASE_MS: "3000",
        FLEET_HEALTH_INTERVAL_MS: "300",
        FLEET_POOL_SIZE: String(poolSize),
      });
      await h.startDaemon();
      for (const n of ["tenant-a", "tenant-b"]) assert.equal((await spawnPrefab(n)).code, 0);
    });
    after(async () => {
      await h?.cleanup();
    });

    test("item 1: the tenant cannot plant a link to another profile's .env (layout 2: the root is not theirs)", () => {
      const a = get("tenant-a") as P;
      const b = get("tenant-b") as P;
      const st = statSync(a.profile_path);
      assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [0, a.gid, 0o750]);
      const planted = sh("tenant-a", `ln -sf ${b.profile_path}/.env .env.new && mv -f .env.new .env`);
      assert.notEqual(JSON.parse(planted.stdout).exit, 0, "the tenant could replace its .env");
      assert.equal(h.cli(["restart", "tenant-a"]).code, 0);
      assert.notEqual(key("tenant-a"), key("tenant-b"));
    });

    test("item 1: a link planted before layout 2 (tenant-owned root) is refused at the next start, never followed", async () => {
      const a = get("tenant-a") as P;
      const b = get("tenant-b") as P;
      const bKey = key("tenant-b");
      // the directory as the old layout had it: owned by the tenant, so the tenant can swap .env for a link
      assert.equal(h.cli(["stop", "tenant-a"]).code, 0);
      chownSync(a.profile_path, a.uid, a.gid);
      const planted = h.cli(["exec", "tenant-a", "--", "sh", "-c", `ln -sf ${b.profile_path}/.env .env.x && mv -f .env.x .env`]);
      // exec of a stopped prefab profile runs as its uid in its directory: the link is in place now
      assert.equal(planted.code, 0, planted.stderr);
      lchownSync(join(a.profile_path, ".env"), a.uid, a.gid);
      const r = h.cli(["start", "tenant-a"]);
      assert.notEqual(r.code, 0, "the start must be refused");
      assert.match(r.stderr, /refusing to use .*\.env: it is a symbolic link/);
      // whatever runs as tenant-a (nothing, or an old process) never got tenant-b's key
      for (const pid of pidsOfUid(a.uid))
        assert.ok(!(await import("node:fs")).readFileSync(`/proc/${pid}/environ`, "utf8").includes(bKey));
    });

    test("item 2: a removed tenant's files, scratch files and stray processes do not reach the next profile on its uid", async () => {
      assert.equal((await spawnPrefab("tenant-c")).code, 0);
      const c = get("tenant-c") as P;
      const leave = sh(
        "tenant-c",
        "echo c-secret > home/marker; echo c-tmp > /tmp/twl-c-$(id -u); setsid sleep 600 >/dev/null 2>&1 < /dev/null & echo ok",
      );
      assert.match(leave.stdout, /ok/);
      await eventually(() => pidsOfUid(c.uid).length >= 2, 5000, "the stray sleep");
      const rm = h.cliJson<{ archive: string }>(["rm", "tenant-c", "--force"]);
      assert.match(rm.archive, /^tenant-c@/);
      assert.deepEqual(pidsOfUid(c.uid), [], "stray processes of the removed tenant were killed");
      assert.equal(existsSync(`/tmp/twl-c-${c.uid}`), false, "scratch files of the removed tenant were removed");
      const archive = join(h.ops, "profiles", ".archive", rm.archive);
      const ast = statSync(archive);
      assert.deepEqual([ast.uid, ast.mode & 0o777], [0, 0o700]);
      assert.equal(statSync(join(archive, "home", "marker")).uid, 0, "every file of the archive is root's");
      // the next profile may get the same uid: it still cannot read the archive
      assert.equal((await spawnPrefab("tenant-d")).code, 0);
      const d = get("tenant-d") as P;
      const read = sh("tenant-d", `cat ${archive}/home/marker; cat ${archive}/.env; ls ${join(h.ops, "profiles", ".archive")}`);
      assert.notEqual(JSON.parse(read.stdout).exit, 0);
      assert.doesNotMatch(read.stdout, /c-secret|API_SERVER_KEY/);
      assert.ok(d.uid > 0);
      assert.equal(h.cli(["rm", "--purge", rm.archive]).code, 0);
      assert.equal(existsSync(archive), false);
      assert.ok(!readdirSync(join(h.ops, "profiles", ".archive")).includes(rm.archive));
    });

    test("item 3: another tenant squatting a profile's port while it restarts gets no caller's key and no health", async () => {
      assert.equal((await spawnPrefab("tenant-e")).code, 0);
      const list = h.cliJson<{ profiles: Array<{ name: string; port: number; pid: number }> }>(["list", "--no-stats"]).profiles;
      const target = list.find((p) => p.name === "tenant-e") as { port: number; pid: number };
      const log = `/tmp/twl-squat-${process.pid}.log`;
      // tenant-b runs a server that keeps trying to bind tenant-e's port for 15 s and writes down every Authorization it sees
      const code = `const fs=require("fs"),http=require("http");const port=+process.argv[1],log=process.argv[2];const end=Date.now()+15000;
(function t(){const s=http.createServer((q,r)=>{fs.appendFileSync(log,String(q.headers.authorization)+"\\n");r.setHeader("content-type","application/json");r.end(JSON.stringify({status:"ok"}))});
s.on("error",()=>{if(Date.now()<end)setTimeout(t,10)});s.listen(port,"127.0.0.1",()=>setTimeout(()=>process.exit(0),Math.max(0,end-Date.now())))})();`;
      const start = h.cli([
        "exec",
        "tenant-b",
        "--",
        "sh",
        "-c",
        'setsid -f node -e "$0" "$1" "$2" >/dev/null 2>&1 </dev/null',
        code,
        String(target.port),
        log,
      ]);
      assert.equal(start.code, 0, start.stderr);
      process.kill(target.pid, "SIGKILL"); // the profile crashes; the supervisor waits 3 s before restarting it
      await eventually(
        async () => {
          const r = await fetch(`http://127.0.0.1:${target.port}/health`).catch(() => undefined);
          return r?.ok;
        },
        3000,
        "the squatter to hold the port",
      );
      const res = await fetch(`${h.url}/p/tenant-e/v1/models`, { headers: { authorization: "Bearer caller-secret-key" } });
      const body = await res.text();
      assert.equal(res.status, 503, body);
      assert.match(body, /held by uid/);
      const health = h.cli(["health", "tenant-e", "--json"]);
      assert.equal(health.code, 8, "the squatter's /health does not make the profile healthy");
      assert.match(health.stdout, /held by uid/);
      const seen = existsSync(log) ? (await import("node:fs")).readFileSync(log, "utf8") : "";
      assert.doesNotMatch(seen, /caller-secret-key|Bearer/, "no caller's key reached the squatter");
      assert.notEqual(get("tenant-e")?.status, "running");
    });

    test("item 4: plan is a closed set; a prototype name is a 400 naming the valid plans, and nothing is created", async () => {
      for (const plan of ["constructor", "__proto__", "enterprise"]) {
        const r = h.cli(["spawn", "tenant-plan", "--tier", "container", "--plan", plan]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, /basic.*pro.*dedicated_pro/);
      }
      // the daemon checks it too, whatever the client: a raw request with a prototype name is a 400 naming the plans
      const token = (await import("node:fs")).readFileSync(join(h.ops, "admin-token"), "utf8").trim();
      const raw = await fetch(`${h.url}/v1/profiles/tenant-plan`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ tier: "container", plan: "constructor" }),
      });
      assert.equal(raw.status, 400);
      assert.match(await raw.text(), /basic.*pro.*dedicated_pro/);
      assert.equal(get("tenant-plan"), undefined);
      assert.equal(existsSync(join(h.ops, "profiles", "tenant-plan")), false);
    });

    test("item 5: the prefab sandbox: private /tmp, no privileges, processes and memory capped per plan", async () => {
      const out = (r: { stdout: string }) => JSON.parse(r.stdout) as { exit: number; stdout: string; stderr: string };
      // two fresh tenants (earlier items leave tenant-a stopped, so health as a whole is not green here: read its JSON)
      for (const n of ["tenant-sbx1", "tenant-sbx2"]) assert.equal((await spawnPrefab(n)).code, 0);
      const sandbox = (JSON.parse(h.cli(["health", "--json"]).stdout) as { sandbox: string }).sandbox;
      // where this host can enforce them, the fleet must: the attacks below are not skipped by a quietly weaker sandbox
      // (a checkout under /tmp cannot have one: the tmpfs would hide the agent's code; health says so)
      const canUnshare = spawnSync("/usr/bin/unshare", ["--mount", "/bin/true"]).status === 0;
      if (canUnshare && !realpathSync(process.cwd()).startsWith("/tmp/")) assert.match(sandbox, /private \/tmp per profile/);
      else if (canUnshare) assert.match(sandbox, /is under \/tmp/);
      if (detectCgroups().mode !== "none") assert.match(sandbox, /memory and pids by/);
      // /tmp: a tmpfs of its own; what tenant-sbx1 writes there is neither on the host nor seen by tenant-sbx2
      const w = out(sh("tenant-sbx1", "echo scratch-a > /tmp/a-scratch && cat /tmp/a-scratch && stat -f -c %T /tmp"));
      assert.equal(w.exit, 0, w.stderr);
      if (/private \/tmp per profile/.test(sandbox)) {
        assert.match(w.stdout, /scratch-a\ntmpfs/);
        assert.equal(existsSync("/tmp/a-scratch"), false, "the host /tmp does not get the tenant's file");
        assert.notEqual(out(sh("tenant-sbx2", "cat /tmp/a-scratch")).exit, 0, "another tenant cannot read it");
        // a command joins the agent's namespace: the agent's /tmp is the one exec sees
        assert.equal(out(sh("tenant-sbx1", "cat /tmp/a-scratch")).stdout.trim(), "scratch-a");
      }
      // no privileges: no capabilities, no supplementary groups, no-new-privileges (setuid binaries gain nothing)
      const st = out(sh("tenant-sbx1", "grep -E '^(CapEff|Groups|NoNewPrivs)' /proc/self/status")).stdout;
      assert.match(st, /CapEff:\s+0000000000000000/);
      assert.match(st, /Groups:\s*\n/);
      assert.match(st, /NoNewPrivs:\s+1/);
      // a fork bomb stops at the plan's process cap (RLIMIT_NPROC, and pids.max where cgroups are writable)
      const bomb = `const {spawn}=require("node:child_process");let ok=0;const ps=[];
for(let i=0;i<400;i++){const p=spawn("sleep",["30"]);p.on("error",()=>{});if(p.pid){ok++;ps.push(p)}}
for(const p of ps)p.kill("SIGKILL");console.log(ok)`;
      const forks = out(h.cli(["exec", "tenant-sbx1", "--json", "--", "node", "-e", bomb]));
      const started = Number(forks.stdout.trim());
      assert.ok(started > 0 && started < limitsForPlan(null).pids, `fork bomb started ${started} processes`);
      // memory: where the cgroup is enforced, taking twice the plan's memory is killed; the other tenant keeps answering
      if (/memory and pids by/.test(sandbox)) {
        const mib = (2 * limitsForPlan(null).memoryBytes) / (1024 * 1024);
        const hog = `const a=[];for(let i=0;i<${mib / 64};i++)a.push(Buffer.alloc(64<<20,1));console.log("survived")`;
        const r = out(h.cli(["exec", "tenant-sbx1", "--json", "--", "node", "-e", hog]));
        assert.notEqual(r.exit, 0, "the memory hog was not stopped");
        assert.doesNotMatch(r.stdout, /survived/);
        assert.equal(h.cli(["health", "tenant-sbx2"]).code, 0);
      }
    });

    test("item 8: generated secrets cannot be supplied weak, and another profile's MCP token cannot be taken", async () => {
      const weak = await spawnPrefab("tenant-w", "--set", "API_SERVER_KEY=x");
      assert.equal(weak.code, 2, weak.stderr);
      assert.match(weak.stderr, /must look generated/);
      const bToken = JSON.parse(sh("tenant-b", "printenv MCP_TUSHARE_TOKEN").stdout).stdout.trim() as string;
      const steal = await spawnPrefab("tenant-t", "--set", `MCP_TUSHARE_TOKEN=${bToken}`);
      assert.notEqual(steal.code, 0);
      assert.match(steal.stderr, /already belongs to another profile/);
      assert.equal(get("tenant-t"), undefined, "the failed spawn was rolled back");
      assert.equal(JSON.parse(sh("tenant-b", "printenv MCP_TUSHARE_TOKEN").stdout).stdout.trim(), bToken);
    });
  });
}
