/**
 * The plan's verification checklist (section 0.4) for one profile, run through its front-door URL and `exec`, as the
 * operator would: price and fundamentals with verified cites, a multi-turn conversation without bleed, .env isolation,
 * and the data source of every cite (cite.profile and the data service's request log).
 */

import type { KeyObject } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import { type Cite, verifyCite } from "@twilight/core";
import type { FleetClient } from "../client/client.js";
import type { ProfileClient } from "./profile-client.js";

export interface CheckResult {
  profile: string;
  check: string;
  ok: boolean;
  ms: number;
  detail: string;
}

export interface ProfileInfo {
  name: string;
  tier: string;
  uid: number;
  profile_path: string;
}

export interface CheckEnv {
  fleet: FleetClient;
  keys: ReadonlyMap<string, KeyObject>;
  /** Look a request id up in the data service's request log; returns the profile it was served to. */
  requestLog: (requestId: string) => Promise<string | undefined>;
  all: ProfileInfo[];
}

/** Cites a profile's checks collected, for the data-source check. */
export type CiteBag = Cite[];

export async function timed(profile: string, check: string, fn: () => Promise<string>): Promise<CheckResult> {
  const t0 = performance.now();
  try {
    const detail = await fn();
    return { profile, check, ok: true, ms: Math.round(performance.now() - t0), detail };
  } catch (e) {
    return { profile, check, ok: false, ms: Math.round(performance.now() - t0), detail: (e as Error).message };
  }
}

function need(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}

async function execEnvelope(env: CheckEnv, p: ProfileInfo, argv: string[], bag: CiteBag) {
  const r = await env.fleet.exec(p.name, argv);
  need(r.exit === 0, `${argv.join(" ")} exited ${r.exit}: ${(r.stderr || r.stdout).trim().slice(0, 200)}`);
  const envelope = JSON.parse(r.stdout) as { data: Record<string, unknown>; cite: Cite };
  const v = verifyCite(envelope, { keys: env.keys, profile: p.name });
  need(v.ok, `cite refused: ${v.ok ? "" : `${v.reason} (${v.message})`}`);
  bag.push(envelope.cite);
  return envelope;
}

export function priceCheck(env: CheckEnv, p: ProfileInfo, bag: CiteBag) {
  return timed(p.name, "price 600519", async () => {
    const e = await execEnvelope(env, p, ["fetch_price", "600519", "--date", "20241231", "--json"], bag);
    need(e.data.ts_code === "600519.SH" && e.data.close === 1524, `unexpected data ${JSON.stringify(e.data).slice(0, 120)}`);
    return `close 1524.00 on ${e.data.trade_date}, cite ${e.cite.request_id} verified`;
  });
}

export function fundamentalsCheck(env: CheckEnv, p: ProfileInfo, bag: CiteBag) {
  return timed(p.name, "fundamentals 000858", async () => {
    const e = await execEnvelope(env, p, ["fetch_fundamentals", "000858", "--period", "20241231", "--json"], bag);
    need(
      e.data.ts_code === "000858.SZ" && e.data.end_date === "20241231",
      `unexpected data ${JSON.stringify(e.data).slice(0, 120)}`,
    );
    return `end_date 20241231 roe ${e.data.roe}, cite ${e.cite.request_id} verified`;
  });
}

function citesOf(answer: { citations: Array<{ cite?: Cite } & Record<string, unknown>> }): Cite[] {
  return answer.citations.map((c) => (c.cite ?? c) as Cite).filter((c) => typeof c?.request_id === "string");
}

/** Three turns in one session; the follow-ups depend on turn 1; a second session and the other profiles see none of it. */
export function conversationCheck(p: ProfileInfo, client: ProfileClient, bag: CiteBag, nonce: string) {
  return timed(p.name, "conversation 3 turns", async () => {
    const t1 = await client.chat(`What is the latest close of 600519? [${nonce}]`);
    need(t1.status === 200, `turn 1 failed: ${t1.error}`);
    const t2 = await client.chat("And its fundamentals for 2024?", t1.sessionId);
    need(t2.status === 200, `turn 2 failed: ${t2.error}`);
    const t3 = await client.chat("What was its close on 20241231?", t1.sessionId);
    need(t3.status === 200, `turn 3 failed: ${t3.error}`);
    for (const [i, t] of [t1, t2, t3].entries()) {
      const cites = citesOf(t);
      need(cites.length > 0, `turn ${i + 1} carries no citation`);
      for (const c of cites) {
        need(
          c.params && JSON.stringify(c.params).includes("600519"),
          `turn ${i + 1} cites ${JSON.stringify(c.params)}, not 600519`,
        );
        bag.push(c);
      }
    }
    need(t3.content.replace(/,/g, "").includes("1524.00"), "turn 3 does not give the 20241231 close 1524.00");
    const s = await client.session(t1.sessionId);
    const users = (s?.messages ?? []).filter((m) => m.role === "user");
    need(users.length === 3 && (users[0]?.content ?? "").includes(nonce), `session holds ${users.length} user turns, expected 3`);
    const fresh = await client.chat("And its fundamentals for 2024?");
    need(fresh.sessionId !== t1.sessionId, "a new request reused the session");
    need(
      !citesOf(fresh).some((c) => JSON.stringify(c.params).includes("600519")),
      "a fresh session knew turn 1's stock: context bled",
    );
    return `3 turns in ${t1.sessionId}; a fresh session did not inherit 600519`;
  });
}

/**
 * From inside the profile, reading any other profile's .env and state.db fails; its own directory is closed to others
 * and read-only to itself (layout 2: root-owned 0750, its group); its .env is root's, readable by its group only.
 */
export function isolationCheck(env: CheckEnv, p: ProfileInfo) {
  return timed(p.name, ".env isolation", async () => {
    const st = statSync(p.profile_path);
    need(
      st.uid === 0 && st.gid === p.uid && (st.mode & 0o777) === 0o750,
      `profile dir mode ${(st.mode & 0o777).toString(8)} owner ${st.uid}:${st.gid}: want 750 owned by root:${p.uid}`,
    );
    const envSt = statSync(join(p.profile_path, ".env"));
    need((envSt.mode & 0o007) === 0, `.env mode ${(envSt.mode & 0o777).toString(8)} is readable by others: want 640`);
    need(
      envSt.uid === 0 && (envSt.mode & 0o022) === 0,
      `.env is writable by the profile (owner ${envSt.uid}, mode ${(envSt.mode & 0o777).toString(8)})`,
    );
    const own = await env.fleet.exec(p.name, ["sh", "-c", "test -r .env && echo readable"]);
    need(own.stdout.includes("readable"), "the profile cannot read its own .env");
    let tried = 0;
    for (const other of env.all.filter((o) => o.name !== p.name)) {
      for (const f of [".env", "data/state.db"]) {
        const path = join(other.profile_path, f);
        const r = await env.fleet.exec(p.name, ["cat", path]);
        need(r.exit !== 0, `${p.name} could read ${other.name}/${f}`);
        tried++;
      }
    }
    return `${tried} reads of other profiles' .env/state.db refused; own .env root:${p.uid} 0640 in a root:${p.uid} 0750 dir`;
  });
}

/** Every cite used by this profile was issued for it, and the data service's request log says it served that request to it. */
export function dataSourceCheck(env: CheckEnv, p: ProfileInfo, bag: CiteBag) {
  return timed(p.name, "data source", async () => {
    need(bag.length > 0, "no cites were collected");
    for (const c of bag) {
      need(c.profile === p.name, `cite ${c.request_id} was issued for ${c.profile}`);
      const served = await env.requestLog(c.request_id);
      need(served === p.name, `request ${c.request_id} is ${served ? `logged for ${served}` : "not in the data service's log"}`);
    }
    return `${bag.length} cites, all issued for ${p.name} and found in the data service's request log`;
  });
}

/** Concurrent conversations on one profile: no lost, duplicated or mixed turns. */
export function parallelCheck(p: ProfileInfo, client: ProfileClient, sessions = 8, turns = 3) {
  return timed(p.name, `parallel ${sessions}x${turns}`, async () => {
    const codes = ["600519", "000858"];
    const ids = await Promise.all(
      Array.from({ length: sessions }, async (_, s) => {
        let sid: string | undefined;
        for (let t = 0; t < turns; t++) {
          const a = await client.chat(`[s${s}t${t}] latest close of ${codes[s % 2]}?`, sid);
          need(a.status === 200, `session ${s} turn ${t}: ${a.error}`);
          sid = a.sessionId;
        }
        return sid as string;
      }),
    );
    need(new Set(ids).size === sessions, "sessions were merged");
    for (const [s, id] of ids.entries()) {
      const users = ((await client.session(id))?.messages ?? []).filter((m) => m.role === "user").map((m) => m.content);
      const want = Array.from({ length: turns }, (_, t) => `[s${s}t${t}]`);
      need(
        users.length === turns && users.every((u, t) => u.startsWith(want[t] as string)),
        `session ${s} holds ${JSON.stringify(users)}`,
      );
    }
    return `${sessions} sessions x ${turns} turns, each stored once, in order, in its own session`;
  });
}
