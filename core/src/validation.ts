/** One way to say what is wrong with an input that failed a zod schema (zod 3 and zod 4 issues share this shape). */
export interface SchemaIssue {
  path: ReadonlyArray<PropertyKey>;
  message: string;
}

/** `a.b: expected string; c: required`; an issue at the root is named by `root` (e.g. "(body)"). */
export function formatIssues(issues: ReadonlyArray<SchemaIssue>, root = "(root)", sep = "; "): string {
  return issues.map((i) => `${i.path.map(String).join(".") || root}: ${i.message}`).join(sep);
}

/** The issues as plain data, for an error's `details`. */
export function issueList(issues: ReadonlyArray<SchemaIssue>): Array<{ path: string; message: string }> {
  return issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message }));
}
