/**
 * Asking a profile a question through its own chat API with its own key, as its user would: `hermes-admin ask` and the
 * upgrade gate. The key is read without following a link and never leaves the daemon; the port must be held by the
 * profile alone (a squatter would receive the key); the question is not recorded.
 */
import { Precondition, Unavailable, UpstreamError } from "@twilight/core";
import { squatter } from "../lib/sockets.js";
import { readProfileEnv } from "../profiles/layout.js";
import type { ProfileRow } from "../registry/types.js";
import type { FleetContext } from "./context.js";
import { listenerUidOf } from "./workloads.js";

export interface AskAnswer {
  profile: string;
  session_id: string;
  answer: string;
  citations: Array<{ ref: number; source: string; api: string; as_of: string; request_id: string }>;
  model: string;
  ms: number;
}

interface ChatBody {
  session_id?: string;
  model?: string;
  choices?: Array<{ message?: { content?: string } }>;
  citations?: Array<{ ref?: number; cite?: { source?: string; api?: string; as_of?: string; request_id?: string } }>;
  error?: { message?: string };
}

export async function askProfile(
  ctx: FleetContext,
  row: ProfileRow,
  q: { question: string; session_id?: string | undefined },
  timeoutMs: number,
): Promise<AskAnswer> {
  const name = row.name;
  const other = squatter(row.port, listenerUidOf(ctx, row));
  if (other)
    throw new Unavailable(`profile ${name} is not reachable: ${other}`, {
      hint: `hermes-admin health ${name}; hermes-admin restart ${name}`,
    });
  const key = (await readProfileEnv(row.profile_path, row.uid)).API_SERVER_KEY;
  if (!key)
    throw new Precondition(`profile ${name} has no API_SERVER_KEY in its .env`, {
      hint: `restore it from a backup (hermes-admin backups ${name}) or respawn the profile`,
    });
  const t0 = performance.now();
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${row.port}/v1/chat/completions`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${key}`,
        "content-type": "application/json",
        ...(q.session_id ? { "x-hermes-session-id": q.session_id } : {}),
      },
      body: JSON.stringify({ model: "hermes-agent", messages: [{ role: "user", content: q.question }] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    throw new Unavailable(`profile ${name} did not answer: ${(e as Error).message}`, {
      hint: `hermes-admin logs ${name} --tail 50; hermes-admin health ${name}`,
    });
  }
  const body = (await res.json().catch(() => ({}))) as ChatBody;
  if (!res.ok)
    throw new UpstreamError(`profile ${name}`, `HTTP ${res.status}: ${body.error?.message ?? "no error message"}`, {
      hint: `hermes-admin logs ${name} --tail 50`,
    });
  return {
    profile: name,
    session_id: body.session_id ?? res.headers.get("x-hermes-session-id") ?? "",
    answer: body.choices?.[0]?.message?.content ?? "",
    citations: (body.citations ?? []).map((c, i) => ({
      ref: c.ref ?? i + 1,
      source: c.cite?.source ?? "",
      api: c.cite?.api ?? "",
      as_of: c.cite?.as_of ?? "",
      request_id: c.cite?.request_id ?? "",
    })),
    model: body.model ?? "",
    ms: Math.round(performance.now() - t0),
  };
}
