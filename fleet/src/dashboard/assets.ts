/**
 * The dashboard's static files, served by the daemon under `/ui/` (no CDN, no bundler): the page and its stylesheet
 * are strings here, the scripts are this folder's compiled modules (app.js, view-model.js, prom-text.js).
 * `dashboardAsset(path)` maps a request path to a file; the daemon adds auth and writes it with `DASHBOARD_HEADERS`.
 */
import { readFileSync } from "node:fs";

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Twilight fleet</title>
<link rel="stylesheet" href="style.css">
<script type="module" src="app.js"></script>
</head>
<body>
<header>
  <h1>Twilight fleet</h1>
  <p id="summary" role="status" aria-live="polite">Loading…</p>
  <p id="updated" class="muted"></p>
  <p id="poll-error" role="alert" class="error"></p>
  <p><button type="button" id="logout">Sign out</button></p>
</header>
<main>
  <section id="login" hidden aria-labelledby="login-h">
    <h2 id="login-h">Sign in</h2>
    <form id="login-form">
      <label for="token">Admin token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required>
      <button type="submit">Sign in</button>
      <p id="login-error" role="alert" class="error"></p>
    </form>
  </section>
  <section id="fleet" aria-labelledby="fleet-h">
    <h2 id="fleet-h">Profiles</h2>
    <p><label><input type="checkbox" id="problems-only"> Only profiles with problems</label></p>
    <div class="scroll">
      <table id="profiles">
        <caption class="sr-only">Profiles, worst first: down or crash-looping, then failing cites, then slow.</caption>
        <thead>
          <tr>
            <th scope="col">Profile</th><th scope="col">Tier</th><th scope="col">Status</th><th scope="col">Problems</th>
            <th scope="col">Uptime</th><th scope="col">Restarts</th><th scope="col">Req/s</th><th scope="col">p95</th>
            <th scope="col">CPU</th><th scope="col">Memory</th><th scope="col">Plan</th><th scope="col">User</th>
            <th scope="col">Order</th><th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody id="rows"></tbody>
      </table>
    </div>
  </section>
  <section id="detail" hidden aria-labelledby="detail-h">
    <h2 id="detail-h" tabindex="-1">Profile</h2>
    <p><button type="button" id="detail-close">Back to the fleet</button></p>
    <div role="group" aria-label="Actions">
      <button type="button" id="act-start">Start</button>
      <button type="button" id="act-stop">Stop</button>
      <button type="button" id="act-restart">Restart</button>
      <label for="detail-to">Move to tier</label>
      <select id="detail-to"><option value="prefab">prefab</option><option value="container">container</option><option value="swarm">swarm</option></select>
      <button type="button" id="act-migrate">Migrate</button>
      <button type="button" id="act-rm" class="danger">Remove</button>
    </div>
    <p id="detail-status" role="status" aria-live="polite"></p>
    <dl>
      <dt>Requests/s (last polls)</dt><dd id="detail-rate" class="spark"></dd>
      <dt>p95 latency (last polls)</dt><dd id="detail-p95" class="spark"></dd>
    </dl>
    <h3>Recent events</h3>
    <ol id="detail-events"></ol>
    <h3>Log tail</h3>
    <pre id="detail-logs" tabindex="0" aria-label="Last 100 log lines"></pre>
  </section>
</main>
</body>
</html>
`;

export const STYLE_CSS = `:root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
body { margin: 0 1rem 2rem; }
h1 { font-size: 1.4rem; margin: 1rem 0 .25rem; }
h2 { font-size: 1.1rem; }
.muted { color: GrayText; margin: 0; }
.error { color: #b00020; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid color-mix(in srgb, currentColor 15%, transparent); text-align: left; }
thead th { position: sticky; top: 0; background: Canvas; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.error { max-width: 28rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
tr.sev-3 { background: color-mix(in srgb, #d32f2f 18%, transparent); }
tr.sev-2 { background: color-mix(in srgb, #f57c00 18%, transparent); }
tr.sev-1 { background: color-mix(in srgb, #fbc02d 15%, transparent); }
.flag { display: inline-block; padding: 0 .4rem; border-radius: .6rem; border: 1px solid currentColor; font-size: .85em; }
.status-running { color: #2e7d32; }
.status-error, .status-stopped { color: #c62828; }
label { margin-right: .5rem; }
input, button, select { font: inherit; padding: .25rem .5rem; }
.danger { color: #b00020; }
.spark { font-size: 1.2em; letter-spacing: 1px; }
#detail-logs { max-height: 24rem; overflow: auto; background: color-mix(in srgb, currentColor 6%, transparent); padding: .5rem; }
:focus-visible { outline: 2px solid Highlight; outline-offset: 2px; }
`;

/** Headers for every `/ui/` response: no inline script or style, no framing, no caching, no referrer. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-store",
};

export interface DashboardAsset {
  contentType: string;
  body: string;
}

const MODULES = new Set(["app.js", "view-model.js", "prom-text.js", "detail.js"]);
const cache = new Map<string, string>();

/** `/ui/` and `/ui/index.html` -> the page, `/ui/style.css`, `/ui/<module>.js`; anything else undefined (404). */
export function dashboardAsset(path: string): DashboardAsset | undefined {
  const rest = path.split("?")[0]?.replace(/^\/ui\/?/, "") ?? "";
  if (rest === "" || rest === "index.html") return { contentType: "text/html; charset=utf-8", body: INDEX_HTML };
  if (rest === "style.css") return { contentType: "text/css; charset=utf-8", body: STYLE_CSS };
  if (!MODULES.has(rest)) return undefined;
  let body = cache.get(rest);
  if (body === undefined) {
    body = readFileSync(new URL(`./${rest}`, import.meta.url), "utf8").replace(/\n\/\/# sourceMappingURL=.*$/, "\n");
    cache.set(rest, body);
  }
  return { contentType: "text/javascript; charset=utf-8", body };
}
