/**
 * The metric names a PromQL expression selects (enough PromQL for our dashboards and rules: selectors, functions,
 * aggregations with by/without, on/ignoring/group_*, ranges, offsets, strings, numbers and Grafana `$variables`).
 */
const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "inf",
  "nan",
]);

export function metricNamesIn(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ") // label lists
    .replace(/\$\{?\w+\}?/g, " ") // Grafana variables
    .replace(/\boffset\s+\S+/g, " ");
  const names = new Set<string>();
  for (const m of s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const word = m[0];
    const at = (m.index ?? 0) + word.length;
    if (/^\s*\(/.test(s.slice(at))) continue; // a function or aggregation call
    if (KEYWORDS.has(word.toLowerCase())) continue;
    const before = s.slice(0, m.index ?? 0);
    if (/[0-9.]$/.test(before) || /\d[eE]$/.test(before)) continue; // part of a number like 1e3
    names.add(word);
  }
  return [...names];
}
