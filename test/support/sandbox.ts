/** Helpers for end-to-end tests: a sandbox world and a migration run in it. */
import { parse } from 'yaml';
import { runMigration, type ExecutionResult, type RunOptions } from '../../sandbox/runner.js';
import { startWorld, type SandboxWorld, type WorldOptions } from '../../sandbox/world.js';

export async function rehearse(
  worldOptions: WorldOptions,
  runOptions: Partial<RunOptions> = {},
  prepare?: (world: SandboxWorld) => Promise<void> | void,
): Promise<{ world: SandboxWorld; result: ExecutionResult }> {
  const world = await startWorld({ keys: 3000, creationDelayMs: 300, podStartMs: 150, ...worldOptions });
  try {
    await prepare?.(world);
    const result = await runMigration(world.input, {
      executionName: `e2e-${Date.now()}`,
      waitMs: 50,
      retryMs: 20,
      onExecutionStatus: (arn, status) => world.setExecutionStatus(arn, status),
      ...runOptions,
    });
    return { world, result };
  } catch (error) {
    await world.close();
    throw error;
  }
}

export const yamlOf = (text: string | undefined): Record<string, unknown> => (parse(text ?? '') ?? {}) as Record<string, unknown>;

/** Every secret of the world must be absent from what the execution exposes. */
export function leakedSecrets(world: SandboxWorld, ...exposed: unknown[]): string[] {
  const text = JSON.stringify(exposed);
  return world.secrets.filter((s) => text.includes(s));
}
