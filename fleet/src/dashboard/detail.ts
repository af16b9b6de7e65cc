/**
 * The dashboard's per-profile panel (browser module /ui/detail.js): actions with a confirmation (start, stop, restart,
 * migrate, rm) sent to the same admin routes the CLI uses, with the session cookie and the CSRF header; the profile's
 * recent events, its log tail and sparklines of its request rate and p95 from the page's polls.
 */

export interface DEl {
  textContent: string | null;
  className: string;
  hidden: boolean;
  value: string;
  disabled: boolean;
  dataset: Record<string, string | undefined>;
  append(...nodes: Array<DEl | string>): void;
  replaceChildren(...nodes: Array<DEl | string>): void;
  setAttribute(name: string, value: string): void;
  addEventListener(type: string, listener: (ev: { preventDefault(): void }) => void): void;
  focus(): void;
}
declare const document: { getElementById(id: string): DEl | null; createElement(tag: string): DEl };
declare function confirm(message: string): boolean;

const $ = (id: string): DEl => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el;
};

const BARS = "▁▂▃▄▅▆▇█";

/** Unicode sparkline of the last values (empty when there are none). Pure, unit-tested. */
export function sparkline(values: readonly number[]): string {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return "";
  const max = Math.max(...v);
  const min = Math.min(...v);
  const span = max - min;
  return v.map((x) => BARS[span === 0 ? 0 : Math.round(((x - min) / span) * (BARS.length - 1))]).join("");
}

export type Action = "start" | "stop" | "restart" | "migrate" | "rm";

/** The admin route an action calls (method, path, body). Pure, unit-tested. */
export function actionRequest(action: Action, name: string, to?: string): { method: string; path: string; body?: string } {
  const base = `/v1/profiles/${encodeURIComponent(name)}`;
  if (action === "rm") return { method: "DELETE", path: `${base}?force=1` };
  if (action === "migrate") return { method: "POST", path: `${base}/migrate`, body: JSON.stringify({ to }) };
  return { method: "POST", path: `${base}/${action}` };
}

/** The question the confirmation asks. */
export function confirmText(action: Action, name: string, to?: string): string {
  if (action === "rm") return `Remove profile ${name}? It is stopped and its directory archived.`;
  if (action === "migrate") return `Move profile ${name} to the ${to} tier? Its requests are held during the handover.`;
  return `${action[0]?.toUpperCase()}${action.slice(1)} profile ${name}?`;
}

export interface DetailDeps {
  csrf: () => string;
  history: (name: string) => { rate: number[]; p95: number[] };
  /** Called after an action answered (the page refreshes). */
  changed: () => void;
}

let current: string | undefined;

async function loadEvents(name: string): Promise<void> {
  const res = await fetch(`/v1/events?limit=20&profile=${encodeURIComponent(name)}`, { credentials: "same-origin" });
  const list = $("detail-events");
  if (!res.ok) return void list.replaceChildren(`Could not load events (HTTP ${res.status}).`);
  const body = (await res.json()) as { events: Array<{ at?: string; action: string; result: string; actor: string }> };
  list.replaceChildren(
    ...body.events.map((e) => {
      const li = document.createElement("li");
      li.textContent = `${e.at ?? ""} ${e.action} ${e.result} (${e.actor})`;
      return li;
    }),
  );
}

async function loadLogs(name: string): Promise<void> {
  const res = await fetch(`/v1/profiles/${encodeURIComponent(name)}/logs?tail=100`, { credentials: "same-origin" });
  $("detail-logs").textContent = res.ok ? await res.text() : `Could not load logs (HTTP ${res.status}).`;
}

async function act(action: Action, name: string, d: DetailDeps): Promise<void> {
  const to = action === "migrate" ? $("detail-to").value : undefined;
  if (!confirm(confirmText(action, name, to))) return;
  const r = actionRequest(action, name, to);
  const status = $("detail-status");
  status.textContent = `${action} ${name}…`;
  const res = await fetch(r.path, {
    method: r.method,
    credentials: "same-origin",
    headers: { "x-csrf-token": d.csrf(), ...(r.body ? { "content-type": "application/json" } : {}) },
    ...(r.body ? { body: r.body } : {}),
  });
  let msg = `${action} ${name}: done`;
  if (!res.ok) {
    const e = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
    msg = `${action} ${name} failed (HTTP ${res.status}): ${e.error?.message ?? ""}`;
  }
  status.textContent = msg;
  status.dataset.result = res.ok ? "ok" : String(res.status);
  d.changed();
  if (action === "rm" && res.ok) location.hash = "";
  else if (current === name) void refreshDetail(d);
}
declare const location: { hash: string };

/** Re-read the open panel's events, logs and sparklines. */
export async function refreshDetail(d: DetailDeps): Promise<void> {
  if (!current) return;
  const h = d.history(current);
  $("detail-rate").textContent = sparkline(h.rate) || "no traffic yet";
  $("detail-p95").textContent = sparkline(h.p95) || "no traffic yet";
  await Promise.all([loadEvents(current), loadLogs(current)]);
}

/** Show the panel for `name` (or hide it when undefined). */
export function showDetail(name: string | undefined, d: DetailDeps): void {
  current = name;
  const panel = $("detail");
  panel.hidden = !name;
  if (!name) return;
  $("detail-h").textContent = `Profile ${name}`;
  $("detail-status").textContent = "";
  void refreshDetail(d);
  $("detail-h").focus();
}

/** Wire the action buttons once. */
export function initDetail(d: DetailDeps): void {
  for (const a of ["start", "stop", "restart", "migrate", "rm"] as const)
    $(`act-${a}`).addEventListener("click", () => {
      if (current) void act(a, current, d);
    });
  $("detail-close").addEventListener("click", () => {
    location.hash = "";
  });
}
