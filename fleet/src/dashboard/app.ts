/**
 * The dashboard page's glue (runs in the browser as /ui/app.js): poll `GET /v1/profiles` and the fleet's `GET /metrics`
 * with the session cookie, build the view (view-model.ts) and render the table. No framework, no build step beyond tsc.
 * The DOM is declared locally (only what this file uses) so the fleet's Node typings stay free of DOM globals.
 */

import { initDetail, refreshDetail, showDetail } from "./detail.js";
import { type FleetSignals, fleetSignals, parsePromText, type Sample } from "./prom-text.js";
import { buildView, DEFAULT_THRESHOLDS, type PollRecord, type RowView, remember, summaryText } from "./view-model.js";

interface El {
  textContent: string | null;
  className: string;
  hidden: boolean;
  value: string;
  dataset: Record<string, string | undefined>;
  checked: boolean;
  append(...nodes: Array<El | string>): void;
  replaceChildren(...nodes: El[]): void;
  setAttribute(name: string, value: string): void;
  addEventListener(type: string, listener: (ev: { preventDefault(): void }) => void): void;
}
declare const document: {
  getElementById(id: string): El | null;
  createElement(tag: string): El;
  body: El;
};
declare const location: { search: string; hash: string; reload(): void };
declare const window: { addEventListener(type: string, listener: () => void): void };
declare class EventSource {
  constructor(url: string);
  addEventListener(type: string, listener: (ev: { data: string }) => void): void;
  close(): void;
}

const $ = (id: string): El => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
};

function cell(text: string, className = ""): El {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function rowEl(r: RowView): El {
  const tr = document.createElement("tr");
  tr.className = `sev-${r.severity}`;
  tr.dataset.profile = r.name;
  tr.dataset.status = r.status;
  const name = document.createElement("th");
  name.setAttribute("scope", "row");
  const link = document.createElement("a");
  link.setAttribute("href", `#p/${r.name}`);
  link.setAttribute("aria-label", `Profile ${r.name}: events, logs and actions`);
  link.textContent = r.name;
  name.append(link);
  const flags = document.createElement("td");
  for (const f of r.flags) {
    const s = document.createElement("span");
    s.className = `flag flag-${f}`;
    s.textContent = f;
    flags.append(s, " ");
  }
  tr.append(
    name,
    cell(r.tier),
    cell(r.status, `status status-${r.status}`),
    flags,
    cell(r.uptime, "num"),
    cell(String(r.restarts), "num"),
    cell(r.requestRate, "num"),
    cell(r.p95, "num"),
    cell(r.cpu, "num"),
    cell(r.memory, "num"),
    cell(r.plan),
    cell(r.user),
    cell(r.order),
    cell(r.lastError, "error"),
  );
  return tr;
}

const params = new URLSearchParams(location.search);
const intervalMs = Math.max(1000, Number(params.get("interval") ?? "5") * 1000 || 5000);
let history: PollRecord[] = [];
let prevSamples: { at: number; samples: Sample[] } | undefined;
let lastRows: RowView[] = [];
let firstRender = true;
let csrf = "";
let live: EventSource | undefined;
/** Per-profile request rate and p95 of the last polls (sparklines in the detail panel). */
const series = new Map<string, { rate: number[]; p95: number[] }>();
const SERIES_LEN = 30;

function keep(signals: Map<string, FleetSignals> | undefined): void {
  if (!signals) return;
  for (const [name, sig] of signals) {
    const s = series.get(name) ?? { rate: [], p95: [] };
    s.rate = [...s.rate, sig.requestRate ?? 0].slice(-SERIES_LEN);
    if (sig.p95Seconds !== undefined) s.p95 = [...s.p95, sig.p95Seconds].slice(-SERIES_LEN);
    series.set(name, s);
  }
}

const detailDeps = {
  csrf: () => csrf,
  history: (name: string) => series.get(name) ?? { rate: [], p95: [] },
  changed: () => schedulePoll(),
};

let pending: ReturnType<typeof setTimeout> | undefined;
function schedulePoll(): void {
  if (pending) return;
  pending = setTimeout(() => {
    pending = undefined;
    void poll().catch(() => undefined);
  }, 250);
}

/** Live updates: the daemon's SSE stream says when a profile's status changes; the row follows at once. */
function connectLive(): void {
  if (live) return;
  live = new EventSource("/ui/events");
  live.addEventListener("profiles", (ev) => {
    const body = JSON.parse(ev.data) as { profiles: Array<{ name: string; status: string; restart_count: number }> };
    const byName = new Map(body.profiles.map((p) => [p.name, p]));
    let changed = body.profiles.length !== lastRows.length;
    for (const r of lastRows) {
      const p = byName.get(r.name);
      if (!p) changed = true;
      else if (p.status !== r.status || p.restart_count !== r.restarts) {
        r.status = p.status;
        r.restarts = p.restart_count;
        changed = true;
      }
    }
    if (changed) {
      render();
      schedulePoll();
    }
  });
}

function route(): void {
  const m = /^#p\/([a-z0-9-]{1,40})$/.exec(location.hash);
  showDetail(m?.[1], detailDeps);
}

function render(): void {
  const only = $("problems-only").checked;
  const rows = only ? lastRows.filter((r) => r.severity > 0) : lastRows;
  $("rows").replaceChildren(...rows.map(rowEl));
}

async function fetchSignals(now: number): Promise<Map<string, FleetSignals> | undefined> {
  const res = await fetch("/metrics", { credentials: "same-origin" }).catch(() => undefined);
  if (!res?.ok) return undefined;
  const samples = parsePromText(await res.text());
  const prev = prevSamples;
  prevSamples = { at: now, samples };
  return fleetSignals(samples, prev?.samples, prev ? (now - prev.at) / 1000 : undefined);
}

async function poll(): Promise<void> {
  const t0 = performance.now();
  const now = Date.now();
  const res = await fetch("/v1/profiles", { credentials: "same-origin", headers: { accept: "application/json" } });
  if (res.status === 401) {
    $("login").hidden = false;
    $("fleet").hidden = true;
    $("summary").textContent = "Sign in to see the fleet.";
    return;
  }
  if (!res.ok) throw new Error(`GET /v1/profiles: HTTP ${res.status}`);
  const body = (await res.json()) as { profiles: Parameters<typeof buildView>[0] };
  const signals = await fetchSignals(now);
  history = remember(history, body.profiles, now, DEFAULT_THRESHOLDS.windowMs);
  keep(signals);
  const view = buildView(body.profiles, { signals, history });
  lastRows = view.rows;
  $("login").hidden = true;
  $("fleet").hidden = false;
  render();
  $("summary").textContent = summaryText(view.summary);
  $("updated").textContent = `Updated ${new Date(now).toLocaleTimeString()}`;
  $("profiles").dataset.renderMs = String(Math.round(performance.now() - t0));
  if (firstRender) {
    firstRender = false;
    document.body.dataset.ready = "1";
    void startSession();
  } else void refreshDetail(detailDeps).catch(() => undefined);
}

async function loop(): Promise<void> {
  try {
    await poll();
    $("poll-error").textContent = "";
  } catch (err) {
    $("poll-error").textContent = `Could not refresh: ${(err as Error).message}`;
  }
  setTimeout(() => void loop(), intervalMs);
}

/** After the first good poll: the CSRF token for actions, the live stream, and the panel named in the URL. */
async function startSession(): Promise<void> {
  const res = await fetch("/ui/session", { credentials: "same-origin" });
  if (res.ok) csrf = ((await res.json()) as { csrf: string }).csrf;
  connectLive();
  route();
}

$("problems-only").addEventListener("change", () => render());
window.addEventListener("hashchange", () => route());
initDetail(detailDeps);
$("logout").addEventListener("click", () => {
  void fetch("/ui/logout", { method: "POST", credentials: "same-origin", headers: { "x-csrf-token": csrf } }).then(() =>
    location.reload(),
  );
});
$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  void (async () => {
    const res = await fetch("/ui/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: $("token").value }),
    });
    $("token").value = "";
    if (res.ok) location.reload();
    else $("login-error").textContent = res.status === 401 ? "That token is not valid." : `Sign-in failed (HTTP ${res.status}).`;
  })();
});
void loop();
