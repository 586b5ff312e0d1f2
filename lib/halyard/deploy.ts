/** `hal deploy apply` in the Halyard pod, through the exec API. */
import type { MigrationConfig } from '../config/schema.js';
import { HalDeployFailedError } from '../errors.js';
import type { ClusterApi } from '../kubernetes/api.js';
import { findHalyardPod } from './files.js';

/** `$.deploy` */
export interface HalDeployResult {
  exitCode: number;
  outputTail: string;
  startedAt: string;
}

const TAIL_LINES = 20;

/** Mask anything that looks like a credential in hal's output before it reaches a log or the state. */
export function redactOutput(text: string): string {
  return text.replace(/(:\/\/[^:@/\s]*:)[^@/\s]+@/g, '$1****@').replace(/((?:password|token|secret)\s*[:=]\s*)(?!encrypted:)\S+/gi, '$1****');
}

export function tail(text: string, lines = TAIL_LINES): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export async function halDeployApply(api: Pick<ClusterApi, 'listPods' | 'exec'>, config: MigrationConfig, now: () => Date = () => new Date()): Promise<HalDeployResult> {
  const pod = await findHalyardPod(api, config);
  const startedAt = now().toISOString();
  const result = await api.exec(config.spinnaker.namespace, pod.metadata!.name!, config.spinnaker.halyard.container, ['hal', 'deploy', 'apply']);
  const output = redactOutput(`${result.stdout}${result.stderr ? `\n${result.stderr}` : ''}`);
  if (result.exitCode !== 0) {
    throw new HalDeployFailedError(`hal deploy apply exited ${result.exitCode} in ${pod.metadata!.name}. Last lines:\n${tail(output)}`);
  }
  return { exitCode: 0, outputTail: tail(output), startedAt };
}
