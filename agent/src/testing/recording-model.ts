/** TEST SUPPORT: a ChatModel decorator that records every input it is given (what "the model saw"). */
import type { ChatMessage, ChatModel, ModelStep, ModelStepRequest } from "../model/types.js";

export class RecordingModel implements ChatModel {
  readonly inputs: ChatMessage[][] = [];

  constructor(private readonly inner: ChatModel) {}

  get id(): string {
    return this.inner.id;
  }

  step(req: ModelStepRequest): Promise<ModelStep> {
    this.inputs.push(structuredClone(req.messages));
    return this.inner.step(req);
  }
}
