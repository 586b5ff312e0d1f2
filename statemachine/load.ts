/**
 * Loads statemachine/migrate.asl.yaml as the deployed stack sees it, for the sandbox and the
 * tests: YAML anchors expanded, the serverless `${…}` variables resolved, and every
 * `Fn::GetAtt: [function, Arn]` turned into that Lambda's ARN. serverless-step-functions
 * does the same when packaging; test/e2e/package checks that the two definitions agree.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { parse } from 'yaml';

export const ASL_FILE = fileURLToPath(new URL('./migrate.asl.yaml', import.meta.url));
/** `service:` in serverless.yml; Lambda names are `<service>-<stage>-<function>`. */
export const SERVICE = 'spin-elasticache';

export interface AslTask {
  stateName: string;
  /** The serverless function (serverless.yml `functions:` key) the Task invokes. */
  functionName: string;
}

export interface LoadOptions {
  region?: string;
  stage?: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The file as written (anchors expanded; `${…}` and `Fn::GetAtt` left as they are). */
export function readAsl(file: string = ASL_FILE): { StartAt: string; States: Record<string, unknown> } & Record<string, unknown> {
  return parse(readFileSync(file, 'utf8')) as { StartAt: string; States: Record<string, unknown> };
}

export function functionArn(functionName: string, options: LoadOptions = {}): string {
  const { region, stage } = withDefaults(options);
  return `arn:aws:lambda:${region}:000000000000:function:${SERVICE}-${stage}-${functionName}`;
}

/** The definition, ready for aws-local-stepfunctions, and the Tasks with the function each invokes. */
export function loadDefinition(options: LoadOptions = {}): { definition: StateMachineDefinition; tasks: AslTask[] } {
  const resolved = withDefaults(options);
  const raw = readAsl() as unknown as Json;
  const tasks: AslTask[] = [];
  collectTasks((raw as { States: Record<string, RawState> }).States, tasks);
  // A fresh tree: the aliases' shared objects are copied, so a caller may mutate one state.
  const definition = resolve(raw, resolved) as unknown as StateMachineDefinition;
  return { definition, tasks };
}

type RawState = { Type?: string; Resource?: { 'Fn::GetAtt'?: [string, string] }; Branches?: { States: Record<string, RawState> }[] };

function collectTasks(states: Record<string, RawState>, into: AslTask[]): void {
  for (const [stateName, state] of Object.entries(states)) {
    const getAtt = state.Resource?.['Fn::GetAtt'];
    if (state.Type === 'Task' && getAtt) into.push({ stateName, functionName: getAtt[0] });
    for (const branch of state.Branches ?? []) collectTasks(branch.States, into);
  }
}

function resolve(value: Json, options: Required<LoadOptions>): Json {
  if (typeof value === 'string') return resolveVariables(value, options);
  if (Array.isArray(value)) return value.map((item) => resolve(item, options));
  if (value === null || typeof value !== 'object') return value;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && Object.keys(value).length === 1) return functionArn(String(getAtt[0]), options);
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolve(item, options)]));
}

/** The serverless variables the ASL may use; any other fails loudly rather than reaching AWS unresolved. */
function resolveVariables(text: string, options: Required<LoadOptions>): string {
  return text.replace(/\$\{([^}]+)\}/g, (whole, name: string) => {
    switch (name.trim()) {
      case 'sls:stage':
        return options.stage;
      case 'self:service':
        return SERVICE;
      case 'aws:region':
        return options.region;
      default:
        throw new Error(`${ASL_FILE}: ${whole} is not resolved by statemachine/load.ts; teach it the variable as osls resolves it`);
    }
  });
}

function withDefaults(options: LoadOptions): Required<LoadOptions> {
  return { region: options.region ?? 'us-east-1', stage: options.stage ?? 'sandbox' };
}
