/**
 * `model.provider: custom` (and any other non-offline provider): an OpenAI-compatible endpoint through the `openai` SDK,
 * e.g. SiliconFlow with a Qwen model. Per attempt timeout and retries come from config (`timeout_seconds`,
 * `max_retries`); a streamed step also has an idle timeout of the same length between chunks.
 */
import { TimeoutError, UpstreamError } from "@twilight/core";
import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import type { ChatModel, ModelStep, ModelStepRequest, ToolCall } from "./types.js";

export interface CustomModelOptions {
  model: string;
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  maxRetries: number;
}

export class CustomModel implements ChatModel {
  private readonly client: OpenAI;

  constructor(private readonly opts: CustomModelOptions) {
    this.client = new OpenAI({
      baseURL: opts.baseUrl,
      apiKey: opts.apiKey || "none",
      timeout: opts.timeoutMs,
      maxRetries: opts.maxRetries,
    });
  }

  get id(): string {
    return this.opts.model;
  }

  async step(req: ModelStepRequest): Promise<ModelStep> {
    const messages = req.messages as ChatCompletionMessageParam[];
    const tools: ChatCompletionTool[] = req.tools.map((t) => ({
      type: "function",
      function: { name: t.name, description: t.description, parameters: t.parameters },
    }));
    const base = { model: this.opts.model, messages, ...(tools.length ? { tools } : {}) };
    try {
      if (!req.onDelta) {
        const r = await this.client.chat.completions.create({ ...base, stream: false }, { signal: req.signal });
        const msg = r.choices[0]?.message;
        const toolCalls: ToolCall[] = (msg?.tool_calls ?? [])
          .filter((c) => c.type === "function")
          .map((c) => ({ id: c.id, type: "function", function: { name: c.function.name, arguments: c.function.arguments } }));
        return {
          content: msg?.content ?? null,
          toolCalls,
          ...(r.usage ? { usage: { prompt_tokens: r.usage.prompt_tokens, completion_tokens: r.usage.completion_tokens } } : {}),
        };
      }
      return await this.streamStep(base, req);
    } catch (e) {
      throw this.mapError(e);
    }
  }

  private async streamStep(
    base: { model: string; messages: ChatCompletionMessageParam[]; tools?: ChatCompletionTool[] },
    req: ModelStepRequest,
  ): Promise<ModelStep> {
    const idle = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, idle.signal]) : idle.signal;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => idle.abort(new TimeoutError(`model stream idle for ${this.opts.timeoutMs} ms`)),
        this.opts.timeoutMs,
      );
    };
    arm();
    try {
      const stream = await this.client.chat.completions.create({ ...base, stream: true }, { signal });
      let content = "";
      const calls: { id: string; name: string; args: string }[] = [];
      let usage: ModelStep["usage"];
      for await (const chunk of stream) {
        arm();
        const d = chunk.choices[0]?.delta;
        if (d?.content) {
          content += d.content;
          req.onDelta?.(d.content);
        }
        for (const tc of d?.tool_calls ?? []) {
          calls[tc.index] ??= { id: "", name: "", args: "" };
          const slot = calls[tc.index] as { id: string; name: string; args: string };
          if (tc.id) slot.id = tc.id;
          if (tc.function?.name) slot.name += tc.function.name;
          if (tc.function?.arguments) slot.args += tc.function.arguments;
        }
        if (chunk.usage) usage = { prompt_tokens: chunk.usage.prompt_tokens, completion_tokens: chunk.usage.completion_tokens };
      }
      const toolCalls: ToolCall[] = calls
        .filter((c) => c?.name)
        .map((c, i) => ({ id: c.id || `call_${i}`, type: "function", function: { name: c.name, arguments: c.args || "{}" } }));
      return { content: content || null, toolCalls, ...(usage ? { usage } : {}) };
    } catch (e) {
      if (idle.signal.aborted) throw idle.signal.reason;
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private mapError(e: unknown): Error {
    if (e instanceof TimeoutError) return e;
    if (e instanceof OpenAI.APIConnectionTimeoutError)
      return new TimeoutError(`the model service did not answer within ${this.opts.timeoutMs} ms`, {
        hint: "check model.base_url or raise model.timeout_seconds",
      });
    if (e instanceof OpenAI.APIConnectionError)
      return new UpstreamError("model", `cannot reach ${this.opts.baseUrl}: ${e.message}`, { retryable: true });
    if (e instanceof OpenAI.APIError)
      return new UpstreamError("model", `HTTP ${e.status ?? "?"}: ${e.message}`, { details: { status: e.status ?? null } });
    return e instanceof Error ? e : new Error(String(e));
  }
}
