/**
 * EnsureParameterGroup: a custom parameter group whose notify-keyspace-events is `gxE`.
 * ElastiCache blocks CONFIG, so this is the only way to get the expired events Gate needs.
 */
import {
  CacheParameterGroupAlreadyExistsFault,
  CreateCacheParameterGroupCommand,
  DescribeCacheParameterGroupsCommand,
  DescribeCacheParametersCommand,
  ModifyCacheParameterGroupCommand,
  type CacheParameterGroup,
  type ElastiCacheClient,
} from '@aws-sdk/client-elasticache';
import type { MigrationConfig } from '../config/schema.js';
import { ResourceConflictError } from '../errors.js';
import { awsCall, awsFind } from '../aws/errors.js';
import { ownershipTags, readOwnership, type EnsureOutcome } from './tags.js';

/** `$.parameterGroup` */
export interface ParameterGroupResult {
  name: string;
  family: string;
  outcome: EnsureOutcome;
}

export const KEYSPACE_EVENTS = 'gxE';
type Client = Pick<ElastiCacheClient, 'send'>;

export async function findParameterGroup(client: Client, name: string): Promise<CacheParameterGroup | undefined> {
  const found = await awsFind(`DescribeCacheParameterGroups ${name}`, 'CacheParameterGroupNotFoundFault', () =>
    client.send(new DescribeCacheParameterGroupsCommand({ CacheParameterGroupName: name })),
  );
  return found?.CacheParameterGroups?.[0];
}

async function keyspaceEventsValue(client: Client, name: string): Promise<string | undefined> {
  let marker: string | undefined;
  do {
    const page = await awsCall(`DescribeCacheParameters ${name}`, () => client.send(new DescribeCacheParametersCommand({ CacheParameterGroupName: name, Marker: marker })));
    const found = page.Parameters?.find((p) => p.ParameterName === 'notify-keyspace-events');
    if (found) return found.ParameterValue ?? '';
    marker = page.Marker;
  } while (marker);
  return undefined;
}

async function setKeyspaceEvents(client: Client, name: string): Promise<void> {
  await awsCall(`ModifyCacheParameterGroup ${name}`, () =>
    client.send(new ModifyCacheParameterGroupCommand({ CacheParameterGroupName: name, ParameterNameValues: [{ ParameterName: 'notify-keyspace-events', ParameterValue: KEYSPACE_EVENTS }] })),
  );
}

export async function ensureParameterGroup(client: Client, config: MigrationConfig, executionArn: string): Promise<ParameterGroupResult> {
  const { parameterGroupName: name, parameterGroupFamily: family } = config.target;
  let group = await findParameterGroup(client, name);
  let outcome: ParameterGroupResult['outcome'] = 'existing';
  if (!group) {
    try {
      const created = await client.send(
        new CreateCacheParameterGroupCommand({
          CacheParameterGroupName: name,
          CacheParameterGroupFamily: family,
          Description: `Spinnaker Redis (${config.target.replicationGroupId}): notify-keyspace-events ${KEYSPACE_EVENTS}`,
          Tags: ownershipTags(executionArn),
        }),
      );
      group = created.CacheParameterGroup;
      outcome = 'created';
    } catch (error) {
      // Lost a race with a re-run of ourselves: read what is there and judge it below.
      if (!(error instanceof CacheParameterGroupAlreadyExistsFault)) return awsCall(`CreateCacheParameterGroup ${name}`, () => Promise.reject(error));
      group = await findParameterGroup(client, name);
    }
  }
  if (!group) throw new ResourceConflictError(`Parameter group ${name} vanished while it was being created; start the execution again`);
  const differences: string[] = [];
  if (group.CacheParameterGroupFamily !== family) differences.push(`family is ${group.CacheParameterGroupFamily}, the engine needs ${family}`);
  const current = await keyspaceEventsValue(client, name);
  if (current !== KEYSPACE_EVENTS) {
    const ownership = outcome === 'created' ? { managed: true } : await readOwnership(client, group.ARN);
    // Finish our own half-made group (a crash between create and modify); never change someone else's.
    if (ownership.managed && differences.length === 0) await setKeyspaceEvents(client, name);
    else differences.push(`notify-keyspace-events is '${current ?? ''}', needs '${KEYSPACE_EVENTS}'`);
  }
  if (differences.length > 0) {
    throw new ResourceConflictError(
      `Parameter group ${name} already exists with a different configuration: ${differences.join('; ')}. It was not created by spin-elasticache, so it is left alone: choose another target.parameterGroupName or fix it yourself.`,
      differences,
    );
  }
  return { name, family, outcome };
}
