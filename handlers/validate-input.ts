/** ValidateInput: check and default the execution input; nothing is created if it is bad. */
import { defineHandler } from '../lib/workflow/handler.js';
import { parseValidateEvent, type ValidatedState } from '../lib/workflow/state.js';

export interface ValidateInputEvent {
  input: unknown;
  execution: { arn: string; startedAt: string };
}

export const handler = defineHandler('ValidateInput', async (event: ValidateInputEvent): Promise<ValidatedState> => parseValidateEvent(event));
