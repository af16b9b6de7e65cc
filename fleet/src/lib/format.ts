/** Human output: aligned tables, durations, sizes. Machine output is `--json` (stdout), progress goes to stderr. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined || c === "" ? "-" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [fmt(headers), ...cells.map(fmt)].join("\n");
}

export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "-";
  if (n < 1024 * 1024) return `${Math.round(n / 1024)}KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)}MiB`;
  return `${(n / 1024 ** 3).toFixed(2)}GiB`;
}

export function progressPrinter(stream: NodeJS.WriteStream = process.stderr) {
  return (p: { step: string; ms: number; [k: string]: unknown }) => {
    const { step, ms, ...rest } = p;
    if (step === "warning" && typeof rest.message === "string") {
      stream.write(`  ! warning: ${rest.message}${typeof rest.fix === "string" ? `\n    fix: ${rest.fix}` : ""}\n`);
      return;
    }
    const extra = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`)
      .join(" ");
    stream.write(`  - ${step.padEnd(12)} ${String(ms).padStart(6)} ms  ${extra}\n`);
  };
}
