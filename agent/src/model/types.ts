/** The model seam: one assistant step given the conversation so far and the tools on offer. */
import type { ToolSpec } from "../tools.js";

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string | null;
  tool_calls?: ToolCall[];
  tool_call_id?: string;
  name?: string;
}

export interface ModelStepRequest {
  messages: ChatMessage[];
  tools: ToolSpec[];
  /** When set, the model streams: text pieces are handed over as they arrive. */
  onDelta?: (text: string) => void;
  signal?: AbortSignal;
}

export interface ModelStep {
  content: string | null;
  toolCalls: ToolCall[];
  usage?: { prompt_tokens: number; completion_tokens: number };
}

export interface ChatModel {
  /** Model id reported by /v1/models and in responses. */
  readonly id: string;
  step(req: ModelStepRequest): Promise<ModelStep>;
}
