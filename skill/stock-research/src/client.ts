/** One MCP tool call to the data service, then verify the cite of what came back. */
import { readFile } from "node:fs/promises";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  type CiteEnvelope,
  CiteInvalid,
  citeBinding,
  keyMap,
  type MarketTool,
  type PinnedKeys,
  parsePinnedKeys,
  TimeoutError,
  Unauthorized,
  UpstreamError,
  unixSocketFetch,
  verifyCite,
} from "@twilight/core";
import type { SkillProfile } from "./profile.js";

export class ToolFailed extends Error {}

export async function callTool(p: SkillProfile, tool: string, args: Record<string, unknown>): Promise<unknown> {
  const client = new Client({ name: "twilight-skill-stock-research", version: "0.1.0" });
  const transport = new StreamableHTTPClientTransport(new URL(p.url), {
    requestInit: { headers: p.headers },
    ...(p.socket ? { fetch: unixSocketFetch(p.socket) } : {}),
  });
  try {
    await client.connect(transport);
    const r = await client.callTool({ name: tool, arguments: args }, undefined, { timeout: p.timeoutMs });
    const text = (Array.isArray(r.content) ? r.content : [])
      .filter((c): c is { type: "text"; text: string } => c?.type === "text")
      .map((c) => c.text)
      .join("\n");
    if (r.isError) throw new ToolFailed(text || `${tool} failed`);
    if (r.structuredContent) return r.structuredContent;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return { text };
    }
  } catch (e) {
    if (e instanceof ToolFailed) throw e;
    const msg = (e as Error).message ?? String(e);
    if (/\b401\b|unauthori[sz]ed/i.test(msg))
      throw new Unauthorized(`the data service refused this profile's token (${p.server})`);
    if (/timed? ?out/i.test(msg)) throw new TimeoutError(`the data service did not answer within ${p.timeoutMs} ms`);
    throw new UpstreamError(p.server, `cannot reach ${p.url}: ${msg}`);
  } finally {
    await transport.terminateSession().catch(() => undefined);
    await client.close().catch(() => undefined);
  }
}

/**
 * The trusted keys: the pinned keys file (`cite.keys_file`, written by the fleet, read-only to the profile) plus
 * `cite.trusted_keys`. Never fetched from the data service: whoever answers on its port cannot vouch for itself.
 * An unreadable keys file leaves no file keys, so every cite is refused (unknown_key): the safe answer.
 */
export async function trustedKeys(p: SkillProfile): Promise<PinnedKeys> {
  const out: PinnedKeys = { keys: keyMap(p.trustedKeys), notAfter: new Map() };
  if (!p.keysFile) return out;
  let file: PinnedKeys;
  try {
    file = parsePinnedKeys(await readFile(p.keysFile, "utf8"));
  } catch {
    return out;
  }
  for (const [id, k] of file.keys) out.keys.set(id, k);
  for (const [id, t] of file.notAfter) out.notAfter.set(id, t);
  return out;
}

/** Verify or throw CiteInvalid (the commands exit with their cite-failure code). The cite must answer `call`. */
export function verified<T>(
  envelope: unknown,
  keys: PinnedKeys,
  p: SkillProfile,
  call: { tool: MarketTool; args: Record<string, unknown> },
): CiteEnvelope<T> {
  const r = verifyCite<T>(envelope, {
    keys: keys.keys,
    notAfter: keys.notAfter,
    profile: p.profile,
    maxAgeMs: p.maxAgeMs,
    expect: citeBinding(call.tool, call.args),
  });
  if (!r.ok) throw new CiteInvalid(r.reason, r.message);
  return r.envelope;
}
