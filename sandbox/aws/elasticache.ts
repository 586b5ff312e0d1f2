/**
 * ElastiCache API emulator: the query protocol (Version 2015-02-02, XML), with AWS's
 * validation rules and error codes, for every operation the workflow uses.
 * CreateReplicationGroup starts real redis-server processes — a primary and replicas that
 * replicate from it — honouring the parameter group (notify-keyspace-events), the AUTH
 * token and TLS, and refusing the commands ElastiCache refuses (through ACLs, so that
 * replication and the sandbox's own admin door still work).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Redis } from 'ioredis';
import { startRedis, type RedisProcess } from '../redis/redis-process.js';
import type { SandboxPki } from '../pki.js';
import { AwsFault, FaultInjector, listen, list, parseForm, sendXml, sendXmlError, structs, type Listening } from './http.js';
import { checkSeed, restoreRefusal, type SeedReader, type SeedSnapshot } from './elasticache-seed.js';

const NAMESPACE = 'http://elasticache.amazonaws.com/doc/2015-02-02/';
const MEMBERS: Record<string, string> = {
  ReplicationGroups: 'ReplicationGroup',
  NodeGroups: 'NodeGroup',
  NodeGroupMembers: 'NodeGroupMember',
  MemberClusters: 'ClusterId',
  CacheParameterGroups: 'CacheParameterGroup',
  Parameters: 'Parameter',
  CacheSubnetGroups: 'CacheSubnetGroup',
  Subnets: 'Subnet',
  TagList: 'Tag',
  Events: 'Event',
  CacheClusters: 'CacheCluster',
  SecurityGroups: 'SecurityGroupMembership',
};
/** Refused for clients, as on ElastiCache. */
export const BLOCKED_COMMANDS = ['bgrewriteaof', 'bgsave', 'config', 'debug', 'migrate', 'replicaof', 'save', 'slaveof', 'shutdown', 'sync', 'psync', 'acl', 'module'];
const ENGINE_FAMILIES: Record<string, (v: string) => string> = {
  redis: (v) => (v.startsWith('6') ? 'redis6.x' : `redis${v.split('.')[0]}`),
  valkey: (v) => `valkey${v.split('.')[0]}`,
};
const FAMILIES = ['redis5.0', 'redis6.x', 'redis7', 'valkey7', 'valkey8'];

export interface Network {
  /** subnet id -> { vpcId, availabilityZone } */
  subnets: Record<string, { vpcId: string; availabilityZone: string }>;
  securityGroups: string[];
}

interface ParameterGroup {
  name: string;
  family: string;
  description: string;
  parameters: Record<string, string>;
  arn: string;
  isDefault: boolean;
}

interface SubnetGroup {
  name: string;
  description: string;
  subnetIds: string[];
  vpcId: string;
  arn: string;
}

export interface ReplicationGroupNode {
  id: string;
  role: 'primary' | 'replica';
  process: RedisProcess;
}

interface ReplicationGroupRecord {
  id: string;
  description: string;
  status: 'creating' | 'available' | 'create-failed' | 'restore-failed' | 'deleting' | 'modifying';
  engine: string;
  engineVersion: string;
  nodeType: string;
  numCacheClusters: number;
  automaticFailover: boolean;
  multiAz: boolean;
  transitEncryption: boolean;
  atRestEncryption: boolean;
  authToken?: string;
  port: number;
  parameterGroup: string;
  subnetGroup: string;
  securityGroupIds: string[];
  arn: string;
  createdAt: Date;
  nodes: ReplicationGroupNode[];
  failureReason?: string;
  adminPassword: string;
  /** `SnapshotArns`: the RDB the primary starts from. */
  seed?: SeedSnapshot;
}

export interface ElastiCacheEmulatorOptions {
  dir: string;
  pki: SandboxPki;
  network: Network;
  region?: string;
  accountId?: string;
  /** How long a group stays `creating` (ms). */
  creationDelayMs?: number;
  /** S3, for `SnapshotArns` (sandbox/aws/s3.ts). */
  s3?: SeedReader;
  /** Memory per node type (bytes), overriding the table in elasticache-seed.ts (tests of the size check). */
  nodeMemoryBytes?: Record<string, number>;
}

export interface ElastiCacheEmulator extends Listening {
  faults: FaultInjector;
  /** Make the next CreateReplicationGroup (or the one with this id) end in create-failed. */
  failNextCreate(reason: string, id?: string): void;
  nodes(id: string): ReplicationGroupNode[];
  /** An admin connection to a node (bypasses the ElastiCache command restrictions). */
  adminClient(id: string, role?: 'primary' | 'replica'): Promise<Redis>;
  requestLog: { action: string; status: number }[];
  groupIds(): string[];
  /** Cache subnet and parameter groups by name (the engines' default parameter groups included). */
  subnetGroupNames(): string[];
  parameterGroupNames(): string[];
}

export async function startElastiCacheEmulator(options: ElastiCacheEmulatorOptions): Promise<ElastiCacheEmulator> {
  const region = options.region ?? 'us-east-1';
  const account = options.accountId ?? '000000000000';
  const arn = (kind: string, name: string) => `arn:aws:elasticache:${region}:${account}:${kind}:${name}`;
  const faults = new FaultInjector();
  const requestLog: { action: string; status: number }[] = [];
  const parameterGroups = new Map<string, ParameterGroup>();
  const subnetGroups = new Map<string, SubnetGroup>();
  const groups = new Map<string, ReplicationGroupRecord>();
  /**
   * Groups whose deletion finished moments ago. ElastiCache keeps counting them as members of
   * their parameter and subnet groups for a while, so deleting those is refused as in use even
   * after the group is gone (terraform-provider-aws, internal/service/elasticache/parameter_group.go,
   * retries DeleteCacheParameterGroup on InvalidCacheParameterGroupState for 3 minutes for this).
   */
  const lingering = new Set<ReplicationGroupRecord>();
  const members = () => [...groups.values(), ...lingering];
  const tags = new Map<string, Map<string, string>>();
  const events: { SourceIdentifier: string; SourceType: string; Message: string; Date: Date }[] = [];
  const pendingFailures: { id?: string; reason: string }[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const tlsCert = options.pki.issue('elasticache');

  for (const family of FAMILIES) {
    const name = `default.${family}`;
    parameterGroups.set(name, {
      name,
      family,
      description: `Default parameter group for ${family}`,
      parameters: { 'notify-keyspace-events': '', 'maxmemory-policy': 'volatile-lru' },
      arn: arn('parametergroup', name),
      isDefault: true,
    });
  }

  const setTags = (resource: string, list: Record<string, string>[]) => {
    const map = tags.get(resource) ?? new Map<string, string>();
    for (const t of list) if (t.Key) map.set(t.Key, t.Value ?? '');
    tags.set(resource, map);
  };
  const need = (params: Map<string, string>, name: string): string => {
    const value = params.get(name);
    if (!value) throw new AwsFault('MissingParameter', `The request must contain the parameter ${name}`);
    return value;
  };
  const checkName = (value: string, what: string, max: number) => {
    if (value.length < 1 || value.length > max || !/^[a-zA-Z][a-zA-Z0-9-]*$/.test(value) || value.includes('--') || value.endsWith('-')) {
      throw new AwsFault(
        'InvalidParameterValue',
        `${what} must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens. It must be 1 to ${max} characters.`,
      );
    }
  };

  const describeParameterGroup = (g: ParameterGroup) => ({ CacheParameterGroupName: g.name, CacheParameterGroupFamily: g.family, Description: g.description, IsGlobal: false, ARN: g.arn });
  const describeSubnetGroup = (g: SubnetGroup) => ({
    CacheSubnetGroupName: g.name,
    CacheSubnetGroupDescription: g.description,
    VpcId: g.vpcId,
    Subnets: g.subnetIds.map((id) => ({ SubnetIdentifier: id, SubnetAvailabilityZone: { Name: options.network.subnets[id]?.availabilityZone } })),
    ARN: g.arn,
  });
  const describeGroup = (g: ReplicationGroupRecord) => {
    const primary = g.nodes.find((n) => n.role === 'primary');
    const available = g.status === 'available' && primary;
    return {
      ReplicationGroupId: g.id,
      Description: g.description,
      Status: g.status,
      MemberClusters: Array.from({ length: g.numCacheClusters }, (_, i) => `${g.id}-00${i + 1}`),
      NodeGroups: available
        ? [
            {
              NodeGroupId: '0001',
              Status: 'available',
              PrimaryEndpoint: { Address: '127.0.0.1', Port: primary.process.port },
              ReaderEndpoint: { Address: '127.0.0.1', Port: (g.nodes.find((n) => n.role === 'replica') ?? primary).process.port },
              NodeGroupMembers: g.nodes.map((n) => ({
                CacheClusterId: n.id,
                CacheNodeId: '0001',
                ReadEndpoint: { Address: '127.0.0.1', Port: n.process.port },
                CurrentRole: n.role,
                PreferredAvailabilityZone: `${region}a`,
              })),
            },
          ]
        : [],
      AutomaticFailover: g.automaticFailover ? 'enabled' : 'disabled',
      MultiAZ: g.multiAz ? 'enabled' : 'disabled',
      ClusterEnabled: false,
      CacheNodeType: g.nodeType,
      Engine: g.engine,
      AuthTokenEnabled: Boolean(g.authToken),
      TransitEncryptionEnabled: g.transitEncryption,
      AtRestEncryptionEnabled: g.atRestEncryption,
      ARN: g.arn,
      ReplicationGroupCreateTime: g.createdAt,
      DataTiering: 'disabled',
      NetworkType: 'ipv4',
      IpDiscovery: 'ipv4',
      ClusterMode: 'disabled',
    };
  };

  /** The sandbox's own admin user on a node (not subject to the ACL that blocks CONFIG), not yet connected. */
  function nodeAdminClient(g: ReplicationGroupRecord, node: ReplicationGroupNode): Redis {
    const client = new Redis({
      host: '127.0.0.1',
      port: node.process.port,
      username: 'sandbox-admin',
      password: g.adminPassword,
      ...(g.transitEncryption ? { tls: { ca: options.pki.caPem } } : {}),
      // The sandbox's own reads (progress, snapshots): named like ours, so no drain or quiesce check
      // counts it as a Spinnaker client still connected.
      connectionName: 'spin-elasticache-sandbox-admin',
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    // Reconnect failures after a node is killed surface on the next command, not as noise.
    client.on('error', () => undefined);
    return client;
  }

  const DYNAMIC_PARAMETERS = ['notify-keyspace-events', 'maxmemory-policy'];
  async function applyToRunningNodes(parameterGroup: string): Promise<void> {
    const params = parameterGroups.get(parameterGroup)?.parameters ?? {};
    const settings = DYNAMIC_PARAMETERS.filter((name) => (name === 'notify-keyspace-events' ? name in params : Boolean(params[name]))).flatMap((name) => [name, params[name]!]);
    if (settings.length === 0) return;
    const nodes = [...groups.values()].filter((g) => g.parameterGroup === parameterGroup).flatMap((g) => g.nodes.map((node) => ({ g, node })));
    await Promise.all(
      nodes.map(async ({ g, node }) => {
        const client = nodeAdminClient(g, node);
        // A node that is down gets the group's values when it starts.
        await client
          .connect()
          .then(() => client.config('SET', ...(settings as [string, string])))
          .catch(() => undefined);
        client.disconnect();
      }),
    );
  }

  async function startNodes(g: ReplicationGroupRecord): Promise<ReplicationGroupNode[]> {
    const params = parameterGroups.get(g.parameterGroup)?.parameters ?? {};
    const replPassword = randomBytes(12).toString('hex');
    const blocked = BLOCKED_COMMANDS.map((c) => `-${c}`);
    const users = [
      ['--user', 'default', 'on', ...(g.authToken ? [`>${g.authToken}`] : ['nopass']), '~*', '&*', '+@all', ...blocked],
      ['--user', 'sandbox-admin', 'on', `>${g.adminPassword}`, '~*', '&*', '+@all'],
      ['--user', 'sandbox-replication', 'on', `>${replPassword}`, '+psync', '+sync', '+replconf', '+ping'],
    ].flat();
    const common = {
      ...(g.transitEncryption ? { tls: { certFile: tlsCert.certFile, keyFile: tlsCert.keyFile, caFile: options.pki.caFile } } : {}),
      notifyKeyspaceEvents: params['notify-keyspace-events'] ?? '',
      extraArgs: [...users, '--repl-diskless-sync-delay', '0', ...(params['maxmemory-policy'] ? ['--maxmemory-policy', params['maxmemory-policy']] : [])],
    };
    const nodes: ReplicationGroupNode[] = [];
    const primaryDir = join(options.dir, g.id, '001');
    if (g.seed) {
      // A real redis-server loads `<dir>/<dbfilename>` when it starts: the seed is written there first.
      mkdirSync(primaryDir, { recursive: true });
      writeFileSync(join(primaryDir, 'dump.rdb'), g.seed.body);
    }
    const primary = await startRedis({ ...common, dir: primaryDir, ...(g.seed ? { extraArgs: [...common.extraArgs, '--dbfilename', 'dump.rdb'] } : {}) });
    nodes.push({ id: `${g.id}-001`, role: 'primary', process: primary });
    for (let i = 2; i <= g.numCacheClusters; i++) {
      const replica = await startRedis({
        ...common,
        dir: join(options.dir, g.id, `00${i}`),
        replicaOf: { host: '127.0.0.1', port: primary.port },
        extraArgs: [...common.extraArgs, '--masteruser', 'sandbox-replication', '--masterauth', replPassword, '--replica-read-only', 'yes'],
      });
      nodes.push({ id: `${g.id}-00${i}`, role: 'replica', process: replica });
    }
    return nodes;
  }

  async function createReplicationGroup(p: Map<string, string>) {
    const id = need(p, 'ReplicationGroupId').toLowerCase();
    checkName(id, 'Replication group id', 40);
    if (groups.has(id)) throw new AwsFault('ReplicationGroupAlreadyExists', `Replication group ${id} already exists.`);
    if (p.has('NumNodeGroups') && Number(p.get('NumNodeGroups')) > 1) throw new AwsFault('InvalidParameterCombination', 'Cluster mode is not supported by this sandbox.');
    const engine = (p.get('Engine') ?? 'redis').toLowerCase();
    if (!ENGINE_FAMILIES[engine]) throw new AwsFault('InvalidParameterValue', `Invalid engine: ${engine}`);
    const engineVersion = p.get('EngineVersion') ?? (engine === 'valkey' ? '8.0' : '7.1');
    const numCacheClusters = Number(p.get('NumCacheClusters') ?? '1');
    if (!Number.isInteger(numCacheClusters) || numCacheClusters < 1 || numCacheClusters > 6) throw new AwsFault('InvalidParameterValue', 'NumCacheClusters must be between 1 and 6.');
    const automaticFailover = p.get('AutomaticFailoverEnabled') === 'true';
    const multiAz = p.get('MultiAZEnabled') === 'true';
    if (automaticFailover && numCacheClusters < 2)
      throw new AwsFault('InvalidParameterCombination', 'Redis with cluster mode disabled with automatic failover enabled requires at least 2 cache clusters.');
    if (multiAz && !automaticFailover) throw new AwsFault('InvalidParameterCombination', 'Multi-AZ requires automatic failover to be enabled.');
    const transitEncryption = p.get('TransitEncryptionEnabled') === 'true';
    const authToken = p.get('AuthToken');
    if (authToken !== undefined) {
      if (!transitEncryption) throw new AwsFault('InvalidParameterCombination', 'The AUTH token is only allowed when transit encryption is enabled.');
      if (!/^[A-Za-z0-9!&#$^<>-]{16,128}$/.test(authToken)) throw new AwsFault('InvalidParameterValue', 'Invalid AuthToken provided.');
    }
    const parameterGroup = p.get('CacheParameterGroupName') ?? `default.${ENGINE_FAMILIES[engine]!(engineVersion)}`;
    const pg = parameterGroups.get(parameterGroup);
    if (!pg) throw new AwsFault('CacheParameterGroupNotFound', `CacheParameterGroup ${parameterGroup} not found.`, 404);
    if (pg.family !== ENGINE_FAMILIES[engine]!(engineVersion))
      throw new AwsFault('InvalidParameterCombination', `The parameter group family ${pg.family} does not match engine ${engine} ${engineVersion}.`);
    const subnetGroup = p.get('CacheSubnetGroupName') ?? 'default';
    if (!subnetGroups.has(subnetGroup)) throw new AwsFault('CacheSubnetGroupNotFoundFault', `CacheSubnetGroup ${subnetGroup} not found.`);
    const securityGroupIds = list(p, 'SecurityGroupIds');
    for (const sg of securityGroupIds) if (!options.network.securityGroups.includes(sg)) throw new AwsFault('InvalidParameterValue', `Security group ${sg} does not exist.`);
    const port = Number(p.get('Port') ?? '6379');
    // SnapshotArns: the object must exist and be readable by ElastiCache, else the call is refused (elasticache-seed.ts).
    const seed = checkSeed(list(p, 'SnapshotArns'), { s3: options.s3, region });
    const g: ReplicationGroupRecord = {
      id,
      description: need(p, 'ReplicationGroupDescription'),
      status: 'creating',
      engine,
      engineVersion,
      nodeType: p.get('CacheNodeType') ?? 'cache.t3.micro',
      numCacheClusters,
      automaticFailover,
      multiAz,
      transitEncryption,
      atRestEncryption: p.get('AtRestEncryptionEnabled') === 'true',
      ...(authToken ? { authToken } : {}),
      port,
      parameterGroup,
      subnetGroup,
      securityGroupIds,
      arn: arn('replicationgroup', id),
      createdAt: new Date(),
      nodes: [],
      adminPassword: randomBytes(12).toString('hex'),
      ...(seed ? { seed } : {}),
    };
    groups.set(id, g);
    setTags(g.arn, structs(p, 'Tags'));
    const failureIndex = pendingFailures.findIndex((f) => !f.id || f.id === id);
    const failure = failureIndex >= 0 ? pendingFailures.splice(failureIndex, 1)[0] : undefined;
    const timer = setTimeout(async () => {
      timers.delete(timer);
      if (!groups.has(id) || g.status !== 'creating') return;
      if (failure) {
        g.status = 'create-failed';
        g.failureReason = failure.reason;
        events.unshift({ SourceIdentifier: id, SourceType: 'replication-group', Message: `Failed to create replication group ${id}: ${failure.reason}`, Date: new Date() });
        return;
      }
      // The seed's restore checks (elasticache-seed.ts): a refused one leaves the group restore-failed, as ElastiCache does.
      const refused = g.seed
        ? restoreRefusal(g.seed, { engine: g.engine, engineVersion: g.engineVersion, nodeType: g.nodeType, ...(options.nodeMemoryBytes ? { nodeMemoryBytes: options.nodeMemoryBytes } : {}) })
        : undefined;
      if (refused) {
        g.status = 'restore-failed';
        g.failureReason = refused;
        events.unshift({ SourceIdentifier: id, SourceType: 'replication-group', Message: `Restore from snapshot failed for replication group ${id}: ${refused}`, Date: new Date() });
        return;
      }
      try {
        g.nodes = await startNodes(g);
        g.status = 'available';
        events.unshift({ SourceIdentifier: id, SourceType: 'replication-group', Message: `Replication group ${id} created`, Date: new Date() });
      } catch (error) {
        g.status = 'create-failed';
        g.failureReason = (error as Error).message;
        events.unshift({ SourceIdentifier: id, SourceType: 'replication-group', Message: `Failed to create replication group ${id}: ${g.failureReason}`, Date: new Date() });
      }
    }, options.creationDelayMs ?? 1500);
    timers.add(timer);
    return { ReplicationGroup: describeGroup(g) };
  }

  const actions: Record<string, (p: Map<string, string>) => Promise<unknown> | unknown> = {
    CreateCacheParameterGroup(p) {
      const name = need(p, 'CacheParameterGroupName');
      checkName(name, 'Parameter group name', 255);
      if (parameterGroups.has(name.toLowerCase())) throw new AwsFault('CacheParameterGroupAlreadyExists', `Parameter group ${name} already exists.`);
      const family = need(p, 'CacheParameterGroupFamily');
      if (!FAMILIES.includes(family)) throw new AwsFault('InvalidParameterValue', `Invalid parameter group family: ${family}`);
      const g: ParameterGroup = {
        name: name.toLowerCase(),
        family,
        description: need(p, 'Description'),
        parameters: { 'notify-keyspace-events': '', 'maxmemory-policy': 'volatile-lru' },
        arn: arn('parametergroup', name.toLowerCase()),
        isDefault: false,
      };
      parameterGroups.set(g.name, g);
      setTags(g.arn, structs(p, 'Tags'));
      return { CacheParameterGroup: describeParameterGroup(g) };
    },
    DescribeCacheParameterGroups(p) {
      const name = p.get('CacheParameterGroupName');
      if (name && !parameterGroups.has(name)) throw new AwsFault('CacheParameterGroupNotFound', `CacheParameterGroup ${name} not found.`, 404);
      return { CacheParameterGroups: [...parameterGroups.values()].filter((g) => !name || g.name === name).map(describeParameterGroup) };
    },
    async ModifyCacheParameterGroup(p) {
      const name = need(p, 'CacheParameterGroupName');
      const g = parameterGroups.get(name);
      if (!g) throw new AwsFault('CacheParameterGroupNotFound', `CacheParameterGroup ${name} not found.`, 404);
      if (g.isDefault) throw new AwsFault('InvalidParameterValue', `Default parameter groups cannot be modified: ${name}`);
      for (const { ParameterName, ParameterValue } of structs(p, 'ParameterNameValues')) {
        if (!ParameterName || !(ParameterName in g.parameters)) throw new AwsFault('InvalidParameterValue', `Unknown parameter ${ParameterName}`);
        if (ParameterName === 'notify-keyspace-events' && !/^[KEg$lshzxetdmnA]*$/.test(ParameterValue ?? ''))
          throw new AwsFault('InvalidParameterValue', `Invalid value for notify-keyspace-events: ${ParameterValue}`);
        g.parameters[ParameterName] = ParameterValue ?? '';
      }
      // Like ElastiCache, dynamic parameters reach the running nodes of every group using it.
      await applyToRunningNodes(name);
      return { CacheParameterGroupName: name };
    },
    DescribeCacheParameters(p) {
      const name = need(p, 'CacheParameterGroupName');
      const g = parameterGroups.get(name);
      if (!g) throw new AwsFault('CacheParameterGroupNotFound', `CacheParameterGroup ${name} not found.`, 404);
      return { Parameters: Object.entries(g.parameters).map(([k, v]) => ({ ParameterName: k, ParameterValue: v, Source: 'user', DataType: 'string', IsModifiable: true, ChangeType: 'immediate' })) };
    },
    DeleteCacheParameterGroup(p) {
      const name = need(p, 'CacheParameterGroupName');
      const g = parameterGroups.get(name);
      if (!g) throw new AwsFault('CacheParameterGroupNotFound', `CacheParameterGroup ${name} not found.`, 404);
      if (g.isDefault) throw new AwsFault('InvalidParameterValue', 'Default parameter groups cannot be deleted.');
      if (members().some((r) => r.parameterGroup === name))
        throw new AwsFault('InvalidCacheParameterGroupState', `One or more cache clusters are still members of this parameter group ${name}, so the group cannot be deleted.`);
      parameterGroups.delete(name);
      return undefined;
    },
    CreateCacheSubnetGroup(p) {
      const name = need(p, 'CacheSubnetGroupName').toLowerCase();
      if (subnetGroups.has(name)) throw new AwsFault('CacheSubnetGroupAlreadyExists', `Cache subnet group ${name} already exists.`);
      const subnetIds = list(p, 'SubnetIds');
      if (subnetIds.length === 0) throw new AwsFault('InvalidParameterValue', 'At least one subnet is required.');
      const vpcs = new Set<string>();
      for (const id of subnetIds) {
        const subnet = options.network.subnets[id];
        if (!subnet) throw new AwsFault('InvalidSubnet', `The subnet ID ${id} does not exist`);
        vpcs.add(subnet.vpcId);
      }
      if (vpcs.size > 1) throw new AwsFault('InvalidParameterValue', 'All subnets in a cache subnet group must be in the same VPC.');
      const g: SubnetGroup = { name, description: need(p, 'CacheSubnetGroupDescription'), subnetIds, vpcId: [...vpcs][0]!, arn: arn('subnetgroup', name) };
      subnetGroups.set(name, g);
      setTags(g.arn, structs(p, 'Tags'));
      return { CacheSubnetGroup: describeSubnetGroup(g) };
    },
    DescribeCacheSubnetGroups(p) {
      const name = p.get('CacheSubnetGroupName');
      if (name && !subnetGroups.has(name)) throw new AwsFault('CacheSubnetGroupNotFoundFault', `Cache subnet group ${name} not found.`);
      return { CacheSubnetGroups: [...subnetGroups.values()].filter((g) => !name || g.name === name).map(describeSubnetGroup) };
    },
    DeleteCacheSubnetGroup(p) {
      const name = need(p, 'CacheSubnetGroupName');
      if (!subnetGroups.has(name)) throw new AwsFault('CacheSubnetGroupNotFoundFault', `Cache subnet group ${name} not found.`);
      if (members().some((r) => r.subnetGroup === name)) throw new AwsFault('CacheSubnetGroupInUse', `Cache subnet group ${name} is currently in use.`);
      subnetGroups.delete(name);
      return undefined;
    },
    CreateReplicationGroup: createReplicationGroup,
    DescribeReplicationGroups(p) {
      const id = p.get('ReplicationGroupId')?.toLowerCase();
      if (id && !groups.has(id)) throw new AwsFault('ReplicationGroupNotFoundFault', `ReplicationGroup ${id} not found.`, 404);
      return { ReplicationGroups: [...groups.values()].filter((g) => !id || g.id === id).map(describeGroup) };
    },
    async DeleteReplicationGroup(p) {
      const id = need(p, 'ReplicationGroupId').toLowerCase();
      const g = groups.get(id);
      if (!g) throw new AwsFault('ReplicationGroupNotFoundFault', `ReplicationGroup ${id} not found.`, 404);
      if (g.status !== 'available' && g.status !== 'create-failed' && g.status !== 'restore-failed') throw new AwsFault('InvalidReplicationGroupState', `Replication group ${id} is ${g.status}.`);
      g.status = 'deleting';
      const described = describeGroup(g);
      // AWS takes minutes (terraform-provider-aws waits up to 40 for DeleteReplicationGroup); the
      // sandbox's shortened time keeps the same order of states: deleting, gone, then lingering.
      const deletionMs = Math.min(250, options.creationDelayMs ?? 1500);
      const timer = setTimeout(async () => {
        timers.delete(timer);
        await Promise.all(g.nodes.map((n) => n.process.stop()));
        groups.delete(id);
        // Still a member of its parameter and subnet groups for a while (see `lingering`); half the
        // deletion's time: 375 ms in all, so a sandbox run's retries (40 x retryMs, 20 ms in the
        // tests, on CleanupCreatedResources) outlast both twice over on a loaded machine.
        lingering.add(g);
        const released = setTimeout(() => {
          timers.delete(released);
          lingering.delete(g);
        }, deletionMs / 2);
        timers.add(released);
      }, deletionMs);
      timers.add(timer);
      return { ReplicationGroup: described };
    },
    DescribeCacheClusters() {
      return {
        CacheClusters: [...groups.values()].flatMap((g) =>
          g.nodes.map((n) => ({
            CacheClusterId: n.id,
            ReplicationGroupId: g.id,
            CacheClusterStatus: g.status,
            Engine: g.engine,
            EngineVersion: g.engineVersion,
            CacheNodeType: g.nodeType,
            NumCacheNodes: 1,
          })),
        ),
      };
    },
    DescribeEvents(p) {
      const id = p.get('SourceIdentifier');
      return { Events: events.filter((e) => !id || e.SourceIdentifier === id) };
    },
    ListTagsForResource(p) {
      const resource = need(p, 'ResourceName');
      const known = [...parameterGroups.values(), ...subnetGroups.values(), ...groups.values()].some((r) => r.arn === resource);
      if (!known) {
        // As AWS: a well-formed ARN of a resource that is not there (deleted a moment ago) is that
        // kind's NotFound fault, InvalidARN only a malformed one (API reference, ListTagsForResource, Errors).
        const kind = /^arn:aws[\w-]*:elasticache:[\w-]+:\d{12}:(replicationgroup|subnetgroup|parametergroup):/.exec(resource)?.[1];
        if (kind === 'replicationgroup') throw new AwsFault('ReplicationGroupNotFoundFault', `ReplicationGroup ${resource} not found.`, 404);
        if (kind === 'subnetgroup') throw new AwsFault('CacheSubnetGroupNotFoundFault', `CacheSubnetGroup ${resource} not found.`, 404);
        if (kind === 'parametergroup') throw new AwsFault('CacheParameterGroupNotFound', `CacheParameterGroup ${resource} not found.`, 404);
        throw new AwsFault('InvalidARN', `Unknown resource ${resource}`);
      }
      return { TagList: [...(tags.get(resource) ?? new Map<string, string>())].map(([Key, Value]) => ({ Key, Value })) };
    },
    AddTagsToResource(p) {
      const resource = need(p, 'ResourceName');
      setTags(resource, structs(p, 'Tags'));
      return { TagList: [...(tags.get(resource) ?? new Map<string, string>())].map(([Key, Value]) => ({ Key, Value })) };
    },
  };

  const server = await listen(async (req: IncomingMessage, body: Buffer, res: ServerResponse) => {
    const params = parseForm(body, req.url);
    const action = params.get('Action') ?? '';
    try {
      const injected = faults.take(action);
      if (injected) throw injected;
      const run = actions[action];
      if (!run) throw new AwsFault('InvalidAction', `The action ${action} is not valid for this web service.`);
      const result = await run(params);
      requestLog.push({ action, status: 200 });
      sendXml(res, action, NAMESPACE, result, MEMBERS);
    } catch (error) {
      const fault = error instanceof AwsFault ? error : new AwsFault('InternalFailure', (error as Error).message, 500, 'Receiver');
      requestLog.push({ action, status: fault.status });
      sendXmlError(res, fault);
    }
  });

  return {
    ...server,
    faults,
    requestLog,
    failNextCreate(reason, id) {
      pendingFailures.push({ reason, ...(id ? { id } : {}) });
    },
    nodes: (id) => groups.get(id)?.nodes ?? [],
    groupIds: () => [...groups.keys()],
    subnetGroupNames: () => [...subnetGroups.keys()],
    parameterGroupNames: () => [...parameterGroups.keys()],
    async adminClient(id, role = 'primary') {
      const g = groups.get(id);
      const node = g?.nodes.find((n) => n.role === role);
      if (!g || !node) throw new Error(`No ${role} node for ${id}`);
      const client = nodeAdminClient(g, node);
      await client.connect();
      return client;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      await server.close();
      await Promise.all([...groups.values()].flatMap((g) => g.nodes.map((n) => n.process.stop())));
    },
  };
}
