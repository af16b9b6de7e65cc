/** The open runtime of one profile: conversation store, MCP tools, cite gate, model, and the API routes over them. */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigInvalid, type Logger, type Router } from "@twilight/core";
import { Agent } from "./agent.js";
import { buildApiRouter } from "./api.js";
import { CiteGuard } from "./cites.js";
import { buildSystemPrompt } from "./context.js";
import { McpToolSource } from "./mcp.js";
import type { AgentMetrics } from "./metrics.js";
import type { ChatModel } from "./model/types.js";
import { OfflinePlanner } from "./offline/planner.js";
import { stateDbPath } from "./paths.js";
import type { Profile } from "./profile.js";
import { ConversationStore } from "./store.js";
import type { ToolSource } from "./tools.js";

export interface Runtime {
  router: Router;
  agent: Agent;
  store: ConversationStore;
  guard: CiteGuard;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  profile: Profile;
  metrics: AgentMetrics;
  log: Logger;
  /** Replace the MCP tool source (tests); default: the config's mcp_servers. */
  tools?: ToolSource;
  /** Replace the model (tests); default: chosen from config's model.provider. */
  model?: ChatModel;
}

/**
 * The one place that picks the model implementation. The openai SDK is loaded only for a remote model, which keeps
 * an offline profile's idle memory down.
 */
export async function chooseModel(profile: Profile): Promise<ChatModel> {
  const m = profile.config.model;
  if (m.provider === "offline") return new OfflinePlanner();
  if (!m.base_url)
    throw new ConfigInvalid(`model.provider is ${m.provider} but model.base_url is empty`, {
      hint: "set model.base_url (and the key in .env), or use model.provider: offline",
    });
  const { CustomModel } = await import("./model/custom.js");
  return new CustomModel({
    model: m.default,
    baseUrl: m.base_url,
    apiKey: m.api_key ?? "",
    timeoutMs: m.timeout_seconds * 1000,
    maxRetries: m.max_retries,
  });
}

export async function openRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const { profile, metrics, log } = opts;
  const cfg = profile.config;
  for (const d of ["logs", "memories", "home"]) mkdirSync(join(profile.home, d), { recursive: true });
  const model = opts.model ?? (await chooseModel(profile));
  const guard = new CiteGuard({
    profile: profile.name,
    keysFile: cfg.cite.keys_file ? resolve(profile.home, cfg.cite.keys_file) : undefined,
    trustedKeys: cfg.cite.trusted_keys,
    maxAgeMs: cfg.cite.max_age_seconds * 1000,
    metrics,
    log: log.child({ part: "cite" }),
  });
  if (cfg.cite.keys_url)
    log.warn("cite.keys_url is ignored: cite keys are pinned (cite.keys_file), never fetched from the data service");
  if (!cfg.cite.keys_file && !cfg.cite.trusted_keys?.length)
    log.warn("no cite keys configured (cite.keys_file / cite.trusted_keys): every cited result will be refused");
  const mcp = opts.tools ?? new McpToolSource(cfg.mcp_servers, log.child({ part: "mcp" }));
  const store = new ConversationStore(stateDbPath(profile.home), profile.name);
  guard.start();
  // MCP connections open on the first tool listing (lazy): start stays lean and an idle profile never loads the SDK.
  const system = buildSystemPrompt(profile.home);
  const agent = new Agent({
    profile: profile.name,
    store,
    tools: mcp,
    guard,
    model,
    systemPrompt: () => system,
    metrics,
    log: log.child({ part: "agent" }),
    maxToolRounds: cfg.model.max_tool_rounds,
    contextChars: Math.max(4_000, cfg.model.context_length * 2 - system.length),
  });
  const router = buildApiRouter({
    apiKey: profile.apiKey,
    agent,
    store,
    modelId: model.id,
    maxBodyBytes: profile.maxBodyBytes,
    log,
  });
  log.info({ model: model.id, provider: cfg.model.provider, mcp_servers: Object.keys(cfg.mcp_servers) }, "runtime opened");
  return {
    router,
    agent,
    store,
    guard,
    close: async () => {
      guard.stop();
      await mcp.close().catch(() => undefined);
      store.close();
    },
  };
}
