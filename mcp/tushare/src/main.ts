/**
 * `node mcp/tushare/dist/main.js`: the data service, configured by environment variables only
 * (MCP_DATA_DIR, MCP_HOST, MCP_PORT, TUSHARE_URL, TUSHARE_TOKEN, MCP_WATCH_LIST, ...; see README.md).
 */
import { serve } from "./serve.js";

serve().catch((e) => {
  const msg = (e as Error).message;
  process.stderr.write(`${msg.startsWith("mcp-tushare") ? "" : "mcp-tushare: "}${msg}\n`);
  const hint = (e as { hint?: string }).hint;
  if (hint) process.stderr.write(`hint: ${hint}\n`);
  process.exit(1);
});
