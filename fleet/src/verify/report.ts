/** The verification report: a profile x check table for humans, the same as JSON for machines. */
import { table } from "../lib/format.js";
import type { CheckResult } from "./checks.js";

export interface VerifyReport {
  started_at: string;
  finished_at: string;
  ok: boolean;
  passed: number;
  failed: number;
  results: CheckResult[];
  migration?: Record<string, unknown>;
  /** Where the live dashboard is (sign in with the admin token). */
  dashboard?: string;
}

export function renderReport(r: VerifyReport): string {
  const rows = r.results.map((c) => [c.profile, c.check, c.ok ? "PASS" : "FAIL", `${c.ms} ms`, c.detail.slice(0, 110)]);
  const profiles = [...new Set(r.results.map((c) => c.profile))];
  const checks = [...new Set(r.results.map((c) => c.check))];
  const matrix = profiles.map((p) => [
    p,
    ...checks.map((c) => {
      const x = r.results.find((y) => y.profile === p && y.check === c);
      return x ? (x.ok ? "pass" : "FAIL") : "";
    }),
  ]);
  return [
    table(["PROFILE", "CHECK", "RESULT", "TIME", "EVIDENCE"], rows),
    "",
    table(["PROFILE", ...checks], matrix),
    "",
    `${r.ok ? "VERIFIED" : "FAILED"}: ${r.passed} passed, ${r.failed} failed`,
    ...(r.dashboard
      ? [`dashboard: ${r.dashboard} (sign in with the admin token, the file admin-token in the ops directory)`]
      : []),
  ].join("\n");
}
