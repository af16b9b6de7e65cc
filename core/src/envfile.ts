/** `.env` files: KEY=VALUE lines, `#` comments, optional double quotes. Parsing is strict about keys, lenient about blanks. */
import { InputInvalid } from "./errors.js";

const KEY_RE = /^[A-Z_][A-Z0-9_]*$/;

export function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new InputInvalid(`.env line ${i + 1}: expected KEY=VALUE`);
    const key = line
      .slice(0, eq)
      .trim()
      .replace(/^export\s+/, "");
    if (!KEY_RE.test(key)) throw new InputInvalid(`.env line ${i + 1}: ${JSON.stringify(key)} is not a valid variable name`);
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = JSON.parse(value) as string;
    else if (value.length >= 2 && value.startsWith("'") && value.endsWith("'")) value = value.slice(1, -1);
    out[key] = value;
  });
  return out;
}

function quote(v: string): string {
  return /^[A-Za-z0-9_./:@+-]*$/.test(v) ? v : JSON.stringify(v);
}

export function isEnvKey(k: string): boolean {
  return KEY_RE.test(k);
}

/**
 * Fill a `.env.example` template: each `KEY=` line takes `values[KEY]` when given, comments and order are kept,
 * and keys in `values` that the template lacks are appended at the end.
 */
export function renderEnv(template: string, values: Record<string, string>): string {
  const seen = new Set<string>();
  const lines = template.split(/\r?\n/).map((raw) => {
    const m = /^\s*([A-Z_][A-Z0-9_]*)\s*=(.*)$/.exec(raw);
    if (!m) return raw;
    const key = m[1] as string;
    seen.add(key);
    const v = values[key];
    return v === undefined ? raw : `${key}=${quote(v)}`;
  });
  const extra = Object.keys(values)
    .filter((k) => !seen.has(k))
    .map((k) => `${k}=${quote(values[k] as string)}`);
  const body = lines.join("\n").replace(/\n+$/, "");
  return `${extra.length ? `${body}\n${extra.join("\n")}` : body}\n`;
}
