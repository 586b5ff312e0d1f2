/**
 * Runs statemachine/migrate.asl.yaml in-process with aws-local-stepfunctions, every Task
 * bound to the same handler module the stack deploys. The handlers are the real ones:
 * the sandbox points their SDK clients at emulators through environment variables only.
 *
 * Lambda semantics kept here: input and output cross a JSON boundary (and the 256 KB
 * payload limit), and a thrown error reaches the state machine as `{ Error: name, Cause:
 * '{"errorType","errorMessage"}' }`, as Lambda reports it.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { type AslTask, loadDefinition } from '../statemachine/load.js';

type JSONValue = Parameters<StateMachine['run']>[0];

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PAYLOAD_LIMIT_BYTES = 256 * 1024;

export type TaskHandler = (event: unknown) => Promise<unknown>;

/** `validateInput` -> `handlers/validate-input.ts` */
export function handlerFile(functionName: string): string {
  return join(ROOT, 'handlers', `${functionName.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}.ts`);
}

export async function loadHandlers(tasks: AslTask[], provided: Record<string, TaskHandler> = {}): Promise<Map<string, TaskHandler>> {
  const byFunction = new Map<string, TaskHandler>(Object.entries(provided));
  for (const { functionName } of tasks) {
    if (byFunction.has(functionName)) continue;
    const mod = (await import(pathToFileURL(handlerFile(functionName)).href)) as { handler?: TaskHandler };
    if (typeof mod.handler !== 'function') throw new Error(`${handlerFile(functionName)} exports no handler`);
    byFunction.set(functionName, mod.handler);
  }
  return byFunction;
}

/** The error a Lambda invocation surfaces to Step Functions. */
export class LambdaInvocationError extends Error {
  constructor(name: string, message: string) {
    super(JSON.stringify({ errorType: name, errorMessage: message }));
    this.name = name;
  }
}

export interface StepRecord {
  name: string;
  type: string;
  status: 'SUCCEEDED' | 'FAILED' | 'CAUGHT' | 'RUNNING';
  startedAt: number;
  durationMs: number;
  attempts: number;
  error?: string;
}

export interface HistoryEvent {
  type: string;
  timestamp: string;
  state?: string;
  stateType?: string;
  error?: string;
  cause?: string;
}

export interface ExecutionResult {
  executionArn: string;
  status: 'SUCCEEDED' | 'FAILED';
  output?: unknown;
  error?: string;
  cause?: string;
  steps: StepRecord[];
  history: HistoryEvent[];
  durationMs: number;
}

export interface RunOptions {
  executionName: string;
  region?: string;
  /** Wait states: milliseconds instead of their Seconds. */
  waitMs?: number;
  /** Retry intervals: milliseconds instead of IntervalSeconds/backoff. */
  retryMs?: number;
  /** Handlers by function name instead of importing handlers/<name>.ts (tests of the ASL itself). */
  handlers?: Record<string, TaskHandler>;
  /** Wrap one state's handler, e.g. to inject a fault; keyed by state name. */
  wrapTask?: (stateName: string, handler: TaskHandler) => TaskHandler;
  /** Task TimeoutSeconds per state name (to provoke States.Timeout quickly). */
  timeoutOverrides?: Record<string, number>;
  onEvent?: (event: HistoryEvent) => void;
  onExecutionStatus?: (arn: string, status: 'RUNNING' | 'SUCCEEDED' | 'FAILED') => void;
}

export async function runMigration(input: unknown, options: RunOptions): Promise<ExecutionResult> {
  const region = options.region ?? 'us-east-1';
  const { definition, tasks } = loadDefinition({ region });
  const handlers = await loadHandlers(tasks, options.handlers);
  const executionArn = `arn:aws:states:${region}:000000000000:execution:spin-elasticache-sandbox:${options.executionName}`;

  const taskResourceLocalHandlers: Record<string, (input: JSONValue) => Promise<JSONValue>> = {};
  const waitTimeOverrides: Record<string, number> = {};
  const retryIntervalOverrides: Record<string, number> = {};
  for (const { stateName, functionName } of tasks) {
    const base = handlers.get(functionName)!;
    const wrapped = options.wrapTask ? options.wrapTask(stateName, base) : base;
    taskResourceLocalHandlers[stateName] = async (event) => (await invokeLikeLambda(wrapped, event)) as JSONValue;
    if (options.retryMs !== undefined) retryIntervalOverrides[stateName] = options.retryMs;
  }
  if (options.timeoutOverrides) {
    forEachState(definition.States, (name, state) => {
      const seconds = options.timeoutOverrides?.[name];
      if (seconds !== undefined && state.Type === 'Task') state.TimeoutSeconds = seconds;
    });
  }
  if (options.waitMs !== undefined) forEachState(definition.States, (name, state) => state.Type === 'Wait' && (waitTimeOverrides[name] = options.waitMs!));

  const machine = new StateMachine(definition, { validationOptions: { checkArn: true, checkPaths: true } });
  const startedAt = Date.now();
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers, waitTimeOverrides, retryIntervalOverrides },
    context: { Execution: { Id: executionArn, Name: options.executionName, StartTime: new Date(startedAt).toISOString(), Input: input as never } },
  });
  options.onExecutionStatus?.(executionArn, 'RUNNING');

  const steps: StepRecord[] = [];
  const open = new Map<string, StepRecord>();
  const history: HistoryEvent[] = [];
  const consume = (async () => {
    for await (const event of execution.eventLogs) {
      const record: HistoryEvent = { type: event.type, timestamp: new Date(event.timestamp).toISOString() };
      if ('state' in event) {
        record.state = event.state.name;
        record.stateType = event.state.type;
      }
      if ('Error' in event) {
        record.error = event.Error;
        record.cause = typeof event.Cause === 'string' ? event.Cause : JSON.stringify(event.Cause);
      }
      history.push(record);
      trackStep(event, steps, open);
      options.onEvent?.(record);
    }
  })();

  let result: ExecutionResult;
  try {
    const output = await execution.result;
    result = { executionArn, status: 'SUCCEEDED', output, steps, history, durationMs: 0 };
  } catch (error) {
    const failure = (error as { cause?: { name?: string; message?: string } }).cause ?? (error as Error);
    result = { executionArn, status: 'FAILED', error: failure.name, cause: failure.message, steps, history, durationMs: 0 };
  }
  await consume.catch(() => undefined);
  result.durationMs = Date.now() - startedAt;
  options.onExecutionStatus?.(executionArn, result.status);
  return result;
}

async function invokeLikeLambda(handler: TaskHandler, event: unknown): Promise<unknown> {
  const payload = JSON.stringify(event);
  if (Buffer.byteLength(payload) > PAYLOAD_LIMIT_BYTES) throw new LambdaInvocationError('States.DataLimitExceeded', 'The state input is larger than 256 KB');
  try {
    const output = await handler(JSON.parse(payload));
    const serialized = JSON.stringify(output ?? null);
    if (Buffer.byteLength(serialized) > PAYLOAD_LIMIT_BYTES) throw new LambdaInvocationError('States.DataLimitExceeded', 'The task output is larger than 256 KB');
    return JSON.parse(serialized);
  } catch (error) {
    if (error instanceof LambdaInvocationError) throw error;
    const e = error as Error;
    throw new LambdaInvocationError(e?.name ?? 'Error', e?.message ?? String(error));
  }
}

function forEachState(states: StateMachineDefinition['States'], fn: (name: string, state: StateMachineDefinition['States'][string]) => void): void {
  for (const [name, state] of Object.entries(states)) {
    fn(name, state);
    if (state.Type === 'Parallel') for (const branch of state.Branches) forEachState(branch.States, fn);
  }
}

type AnyEvent = { type: string; timestamp: number; state?: { name: string; type: string }; Error?: string };

function trackStep(event: AnyEvent, steps: StepRecord[], open: Map<string, StepRecord>): void {
  const state = event.state;
  if (!state) return;
  if (event.type === 'StateEntered') {
    const existing = open.get(state.name);
    if (existing) return;
    const record: StepRecord = { name: state.name, type: state.type, status: 'RUNNING', startedAt: event.timestamp, durationMs: 0, attempts: 1 };
    open.set(state.name, record);
    steps.push(record);
    return;
  }
  const record = open.get(state.name);
  if (!record) return;
  if (event.type === 'StateRetried') {
    record.attempts += 1;
    return;
  }
  record.durationMs = event.timestamp - record.startedAt;
  if (event.type === 'StateExited') record.status = 'SUCCEEDED';
  else if (event.type === 'StateCaught') record.status = 'CAUGHT';
  else if (event.type === 'StateFailed') {
    record.status = 'FAILED';
    if (event.Error) record.error = event.Error;
    // A failed attempt may still be retried; keep the record open until exit or catch.
    return;
  }
  open.delete(state.name);
}
