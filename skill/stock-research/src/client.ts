/** One MCP tool call to the data service, then verify the cite of what came back. */
import type { KeyObject } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  type CiteEnvelope,
  CiteInvalid,
  keyMap,
  type PublicCiteKey,
  TimeoutError,
  Unauthorized,
  UpstreamError,
  verifyCite,
} from "@twilight/core";
import type { SkillProfile } from "./profile.js";

export class ToolFailed extends Error {}

export async function callTool(p: SkillProfile, tool: string, args: Record<string, unknown>): Promise<unknown> {
  const client = new Client({ name: "twilight-skill-stock-research", version: "0.1.0" });
  const transport = new StreamableHTTPClientTransport(new URL(p.url), { requestInit: { headers: p.headers } });
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

export async function trustedKeys(p: SkillProfile, fetchImpl: typeof fetch = fetch): Promise<Map<string, KeyObject>> {
  const keys: PublicCiteKey[] = [...p.trustedKeys];
  if (p.keysUrl) {
    try {
      const res = await fetchImpl(p.keysUrl, { signal: AbortSignal.timeout(5_000) });
      if (res.ok) keys.push(...(((await res.json()) as { keys?: PublicCiteKey[] }).keys ?? []));
    } catch {
      // fall through: with no keys every cite is refused as unknown_key, which is the safe answer
    }
  }
  return keyMap(keys);
}

/** Verify or throw CiteInvalid (the commands exit with their cite-failure code). */
export function verified<T>(envelope: unknown, keys: Map<string, KeyObject>, p: SkillProfile): CiteEnvelope<T> {
  const r = verifyCite<T>(envelope, { keys, profile: p.profile, maxAgeMs: p.maxAgeMs });
  if (!r.ok) throw new CiteInvalid(r.reason, r.message);
  return r.envelope;
}
