/**
 * `hermes-admin top`: the dashboard's table as terminal text (pure). The CLI polls the same `GET /v1/profiles` and
 * `GET /metrics`, builds the view with `buildView`, and prints `renderTop(view, {width, color})` after clearing the screen.
 */
import { type DashboardView, type RowView, summaryText } from "./view-model.js";

export interface TopOptions {
  /** Terminal columns (default 120); the last-error column takes what is left. */
  width?: number;
  /** ANSI colours by severity (default false; the CLI turns it on for a TTY without NO_COLOR). */
  color?: boolean;
  /** At most this many rows (default all); a footer says how many were left out. */
  maxRows?: number;
}

const COLUMNS: Array<{ title: string; width: number; right?: boolean; pick: (r: RowView) => string }> = [
  { title: "PROFILE", width: 22, pick: (r) => r.name },
  { title: "TIER", width: 9, pick: (r) => r.tier },
  { title: "STATUS", width: 9, pick: (r) => r.status },
  { title: "PROBLEMS", width: 24, pick: (r) => r.flags.join(",") },
  { title: "UPTIME", width: 8, right: true, pick: (r) => r.uptime },
  { title: "RST", width: 4, right: true, pick: (r) => String(r.restarts) },
  { title: "REQ/S", width: 7, right: true, pick: (r) => r.requestRate },
  { title: "P95", width: 7, right: true, pick: (r) => r.p95 },
  { title: "CPU", width: 6, right: true, pick: (r) => r.cpu },
  { title: "MEM", width: 8, right: true, pick: (r) => r.memory },
  { title: "PLAN", width: 10, pick: (r) => r.plan },
];

const SEVERITY_COLOR = ["", "\u001b[33m", "\u001b[38;5;208m", "\u001b[31m"] as const;
const RESET = "\u001b[0m";

function fit(s: string, width: number, right = false): string {
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, " "); // never let a value move the cursor
  const cut = clean.length > width ? `${clean.slice(0, Math.max(0, width - 1))}…` : clean;
  return right ? cut.padStart(width) : cut.padEnd(width);
}

export function renderTop(view: DashboardView, o: TopOptions = {}): string {
  const width = Math.max(60, o.width ?? 120);
  const fixed = COLUMNS.reduce((n, c) => n + c.width + 1, 0);
  const errWidth = Math.max(0, width - fixed);
  const line = (cells: string[], last: string) =>
    (cells.join(" ") + (errWidth > 0 ? ` ${fit(last, errWidth)}` : "")).slice(0, width).trimEnd();
  const out = [summaryText(view.summary), ""];
  out.push(
    line(
      COLUMNS.map((c) => fit(c.title, c.width, c.right)),
      "LAST ERROR",
    ),
  );
  const rows = o.maxRows === undefined ? view.rows : view.rows.slice(0, o.maxRows);
  for (const r of rows) {
    const text = line(
      COLUMNS.map((c) => fit(c.pick(r), c.width, c.right)),
      r.lastError,
    );
    out.push(o.color && r.severity > 0 ? `${SEVERITY_COLOR[r.severity]}${text}${RESET}` : text);
  }
  if (rows.length < view.rows.length) out.push(`… ${view.rows.length - rows.length} more (worst first; widen with --rows)`);
  return `${out.join("\n")}\n`;
}
