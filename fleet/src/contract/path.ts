/** A route's path with its parameters filled in (no schemas here: the CLI's client loads this without zod). */
export function pathOf(def: { path: string }, params: Record<string, string>): string {
  return def.path.replace(/:(\w+)/g, (_, k: string) => {
    const v = params[k];
    if (v === undefined) throw new Error(`route ${def.path}: missing parameter ${k}`);
    return encodeURIComponent(v);
  });
}
