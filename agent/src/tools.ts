/**
 * The seam between the agent loop and whatever provides tools. Names are qualified as the model sees them:
 * `mcp__<server>__<tool>` (Hermes' convention). `McpToolSource` (mcp.ts) is the real implementation; tests use fakes.
 */
export interface ToolSpec {
  /** Qualified name, e.g. `mcp__tushare__get_latest_price`. */
  name: string;
  description: string;
  /** JSON Schema of the arguments object. */
  parameters: Record<string, unknown>;
}

export interface ToolResult {
  isError: boolean;
  /** Text content blocks joined. */
  text: string;
  /** `structuredContent` when the server sent one. */
  structured?: unknown;
  /** The result's `_meta`, when the server sent one (never trusted for figures: it is outside the signature). */
  meta?: Record<string, unknown>;
}

export interface ToolSource {
  /** Tools currently offered (servers that cannot be reached are left out, and retried on the next call). */
  list(): Promise<ToolSpec[]>;
  /** Call a tool by qualified name. Transport failures throw; tool-level failures come back as `isError`. */
  call(name: string, args: Record<string, unknown>): Promise<ToolResult>;
  close(): Promise<void>;
}

export function qualifyTool(server: string, tool: string): string {
  return `mcp__${server}__${tool}`;
}

export function splitToolName(name: string): { server: string; tool: string } | null {
  const m = /^mcp__([A-Za-z0-9_-]+?)__(.+)$/.exec(name);
  return m ? { server: m[1] as string, tool: m[2] as string } : null;
}
