/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): object keys sorted by UTF-16 code units, no insignificant white space,
 * numbers in the ECMAScript shortest round-trip form (which is what JSON.stringify produces for finite numbers),
 * strings escaped as JSON.stringify does. Rejects values JSON cannot represent instead of silently dropping them.
 */
export function canonicalize(value: unknown): string {
  return ser(value, "$");
}

function ser(v: unknown, path: string): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      if (!Number.isFinite(v)) throw new TypeError(`canonicalize: non-finite number at ${path}`);
      return Object.is(v, -0) ? "0" : JSON.stringify(v);
    case "string":
      return JSON.stringify(v);
    case "object": {
      if (Array.isArray(v)) return `[${v.map((x, i) => ser(x, `${path}[${i}]`)).join(",")}]`;
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        if (v instanceof Date) return JSON.stringify(v.toISOString());
        throw new TypeError(`canonicalize: unsupported object at ${path}`);
      }
      const obj = v as Record<string, unknown>;
      const keys = Object.keys(obj)
        .filter((k) => obj[k] !== undefined)
        .sort(compareUtf16);
      return `{${keys.map((k) => `${JSON.stringify(k)}:${ser(obj[k], `${path}.${k}`)}`).join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalize: unsupported ${typeof v} at ${path}`);
  }
}

function compareUtf16(a: string, b: string): number {
  // JS string comparison is by UTF-16 code units, which is exactly what RFC 8785 asks for.
  return a < b ? -1 : a > b ? 1 : 0;
}
