/**
 * The smaller AWS API emulators the workflow touches: EKS (REST-JSON DescribeCluster),
 * Secrets Manager (JSON 1.1: Get/Describe/Create/PutSecretValue), SNS and STS (query/XML), and Step Functions (JSON 1.0
 * Start/Describe/ListExecutions: the stale-lock check and ChatOps).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsFault, FaultInjector, listen, parseForm, sendJson, sendJsonError, sendXml, sendXmlError, type Listening } from './http.js';

export interface EksClusterConfig {
  name: string;
  endpoint: string;
  caPem: string;
  vpcId: string;
  subnetIds: string[];
  clusterSecurityGroupId: string;
  securityGroupIds: string[];
  version?: string;
}

export interface EksEmulator extends Listening {
  setCluster(cluster: EksClusterConfig): void;
  faults: FaultInjector;
}

export async function startEksEmulator(region: string, account = '000000000000'): Promise<EksEmulator> {
  const clusters = new Map<string, EksClusterConfig>();
  const faults = new FaultInjector();
  const server = await listen(async (req: IncomingMessage, _body: Buffer, res: ServerResponse) => {
    const match = /^\/clusters\/([^/?]+)/.exec(req.url ?? '');
    try {
      const injected = faults.take('DescribeCluster');
      if (injected) throw injected;
      if (req.method !== 'GET' || !match) throw new AwsFault('InvalidRequestException', `Unsupported ${req.method} ${req.url}`, 400);
      const name = decodeURIComponent(match[1]!);
      const c = clusters.get(name);
      if (!c) throw new AwsFault('ResourceNotFoundException', `No cluster found for name: ${name}.`, 404);
      sendJson(
        res,
        200,
        {
          cluster: {
            name: c.name,
            arn: `arn:aws:eks:${region}:${account}:cluster/${c.name}`,
            createdAt: 1700000000,
            version: c.version ?? '1.31',
            endpoint: c.endpoint,
            roleArn: `arn:aws:iam::${account}:role/eks-cluster`,
            resourcesVpcConfig: {
              subnetIds: c.subnetIds,
              securityGroupIds: c.securityGroupIds,
              clusterSecurityGroupId: c.clusterSecurityGroupId,
              vpcId: c.vpcId,
              endpointPublicAccess: false,
              endpointPrivateAccess: true,
              publicAccessCidrs: [],
            },
            kubernetesNetworkConfig: { serviceIpv4Cidr: '172.20.0.0/16', ipFamily: 'ipv4' },
            status: 'ACTIVE',
            certificateAuthority: { data: Buffer.from(c.caPem).toString('base64') },
            platformVersion: 'eks.1',
            accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
          },
        },
        'application/json',
      );
    } catch (error) {
      const fault = error instanceof AwsFault ? error : new AwsFault('ServerException', String(error), 500);
      res.writeHead(fault.status, { 'content-type': 'application/json', 'x-amzn-errortype': fault.code });
      res.end(JSON.stringify({ message: fault.message }));
    }
  });
  return { ...server, faults, setCluster: (c) => void clusters.set(c.name, c) };
}

export interface SecretsManagerEmulator extends Listening {
  /** A secret as stored (tests: its value and tags), by name. */
  secret(name: string): { arn: string; value: string | Buffer; tags: Record<string, string> } | undefined;
  /** Creates the secret, or gives an existing one a new value under the same ARN (a rotation, as PutSecretValue does); a Buffer is stored and returned as SecretBinary (Secrets Manager API reference, GetSecretValue). */
  putSecret(name: string, value: string | Buffer, tags?: Record<string, string>): string;
  faults: FaultInjector;
}

export async function startSecretsManagerEmulator(region: string, account = '000000000000'): Promise<SecretsManagerEmulator> {
  const secrets = new Map<string, { arn: string; name: string; value: string | Buffer; tags: Record<string, string>; kmsKeyId?: string }>();
  const faults = new FaultInjector();
  const find = (id: string) => [...secrets.values()].find((s) => s.arn === id || s.name === id);
  const server = await listen(async (req, body, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.replace('secretsmanager.', '');
    try {
      const injected = faults.take(operation);
      if (injected) throw injected;
      const input = JSON.parse(body.toString() || '{}') as { SecretId?: string; Name?: string; SecretString?: string; Tags?: { Key: string; Value: string }[]; KmsKeyId?: string };
      if (operation === 'GetSecretValue' || operation === 'DescribeSecret') {
        const secret = find(input.SecretId ?? '');
        if (!secret) throw new AwsFault('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400);
        if (operation === 'DescribeSecret')
          sendJson(res, 200, {
            ARN: secret.arn,
            Name: secret.name,
            ...(secret.kmsKeyId ? { KmsKeyId: secret.kmsKeyId } : {}),
            Tags: Object.entries(secret.tags).map(([Key, Value]) => ({ Key, Value })),
          });
        else
          sendJson(res, 200, {
            ARN: secret.arn,
            Name: secret.name,
            ...(typeof secret.value === 'string' ? { SecretString: secret.value } : { SecretBinary: secret.value.toString('base64') }),
            VersionId: 'v1',
            VersionStages: ['AWSCURRENT'],
            CreatedDate: 1700000000,
          });
        return;
      }
      if (operation === 'CreateSecret') {
        if (secrets.has(input.Name ?? '')) throw new AwsFault('ResourceExistsException', `The operation failed because the secret ${input.Name} already exists.`, 400);
        const arn = api.putSecret(input.Name ?? '', input.SecretString ?? '', Object.fromEntries((input.Tags ?? []).map((t) => [t.Key, t.Value])));
        if (input.KmsKeyId) secrets.get(input.Name ?? '')!.kmsKeyId = input.KmsKeyId;
        sendJson(res, 200, { ARN: arn, Name: input.Name, VersionId: randomUUID() });
        return;
      }
      if (operation === 'PutSecretValue') {
        const secret = find(input.SecretId ?? '');
        if (!secret) throw new AwsFault('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400);
        secret.value = input.SecretString ?? '';
        sendJson(res, 200, { ARN: secret.arn, Name: secret.name, VersionId: randomUUID(), VersionStages: ['AWSCURRENT'] });
        return;
      }
      throw new AwsFault('InvalidRequestException', `Unsupported operation ${operation}`, 400);
    } catch (error) {
      sendJsonError(res, error instanceof AwsFault ? error : new AwsFault('InternalServiceError', String(error), 500));
    }
  });
  const api: SecretsManagerEmulator = {
    ...server,
    faults,
    secret: (name) => secrets.get(name),
    putSecret(name, value, tags = {}) {
      const arn = secrets.get(name)?.arn ?? `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${randomBytes(3).toString('hex')}`;
      secrets.set(name, { arn, name, value, tags });
      return arn;
    },
  };
  return api;
}

export interface SnsEmulator extends Listening {
  topicArn(name: string): string;
  messages: { topicArn: string; subject?: string; message: string }[];
}

export async function startSnsEmulator(region: string, account = '000000000000'): Promise<SnsEmulator> {
  const topics = new Set<string>();
  const messages: SnsEmulator['messages'] = [];
  const ns = 'http://sns.amazonaws.com/doc/2010-03-31/';
  const topicArn = (name: string) => {
    const arn = `arn:aws:sns:${region}:${account}:${name}`;
    topics.add(arn);
    return arn;
  };
  const server = await listen(async (req, body, res) => {
    const p = parseForm(body, req.url);
    const action = p.get('Action') ?? '';
    try {
      if (action === 'CreateTopic') return sendXml(res, action, ns, { TopicArn: topicArn(p.get('Name') ?? 'topic') });
      if (action === 'ListTopics') return sendXml(res, action, ns, { Topics: [...topics].map((TopicArn) => ({ TopicArn })) });
      if (action === 'Publish') {
        const arn = p.get('TopicArn') ?? '';
        if (!topics.has(arn)) throw new AwsFault('NotFound', 'Topic does not exist', 404);
        messages.push({ topicArn: arn, message: p.get('Message') ?? '', ...(p.get('Subject') ? { subject: p.get('Subject')! } : {}) });
        return sendXml(res, action, ns, { MessageId: randomBytes(16).toString('hex') });
      }
      throw new AwsFault('InvalidAction', `Unsupported action ${action}`);
    } catch (error) {
      sendXmlError(res, error instanceof AwsFault ? error : new AwsFault('InternalError', String(error), 500, 'Receiver'));
    }
  });
  return { ...server, topicArn, messages };
}

export async function startStsEmulator(account = '000000000000'): Promise<Listening> {
  return listen(async (req, body, res) => {
    const action = parseForm(body, req.url).get('Action');
    if (action === 'GetCallerIdentity')
      return sendXml(res, 'GetCallerIdentity', 'https://sts.amazonaws.com/doc/2011-06-15/', { Arn: `arn:aws:iam::${account}:user/sandbox`, UserId: 'AIDASANDBOX', Account: account });
    sendXmlError(res, new AwsFault('InvalidAction', `Unsupported action ${action}`));
  });
}

export interface SfnEmulator extends Listening {
  setExecutionStatus(arn: string, status: string): void;
  /** Runs what StartExecution starts; the world wires the ASL runner in. */
  onStart?: (name: string, input: unknown, executionArn: string) => void;
}

interface SandboxExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: string;
  input?: string;
  startDate: number;
}

/** Step Functions: StartExecution, DescribeExecution and ListExecutions (JSON 1.0 protocol). */
export async function startSfnEmulator(): Promise<SfnEmulator> {
  const executions = new Map<string, SandboxExecution>();
  const machineOf = (executionArn: string) => executionArn.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, '');
  const json = 'application/x-amz-json-1.0';
  const emulator: SfnEmulator = {
    url: '',
    close: async () => undefined,
    setExecutionStatus: (arn, status) => {
      const known = executions.get(arn);
      if (known) known.status = status;
      else executions.set(arn, { executionArn: arn, stateMachineArn: machineOf(arn), name: arn.split(':').pop() ?? arn, status, startDate: Date.now() / 1000 });
    },
  };
  const server = await listen(async (req, body, res) => {
    const operation = String(req.headers['x-amz-target'] ?? '').replace('AWSStepFunctions.', '');
    const input = JSON.parse(body.toString() || '{}') as { executionArn?: string; stateMachineArn?: string; name?: string; input?: string; maxResults?: number; statusFilter?: string };
    switch (operation) {
      case 'DescribeExecution': {
        const e = executions.get(input.executionArn ?? '');
        if (!e) return sendJsonError(res, new AwsFault('ExecutionDoesNotExist', `Execution Does Not Exist: '${input.executionArn}'`), json);
        return sendJson(res, 200, { executionArn: e.executionArn, stateMachineArn: e.stateMachineArn, name: e.name, status: e.status, startDate: e.startDate }, json);
      }
      case 'StartExecution': {
        const machine = input.stateMachineArn ?? '';
        if (!/^arn:aws:states:[^:]+:\d{12}:stateMachine:[A-Za-z0-9_-]+$/.test(machine)) return sendJsonError(res, new AwsFault('InvalidArn', `Invalid Arn: '${machine}'`), json);
        const name = input.name ?? randomUUID();
        if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) return sendJsonError(res, new AwsFault('InvalidName', `Invalid Name: '${name}'`), json);
        const executionArn = `${machine.replace(':stateMachine:', ':execution:')}:${name}`;
        const existing = executions.get(executionArn);
        if (existing) {
          // As the StartExecution API reference says for STANDARD workflows: the same name and input is idempotent while the execution runs;
          // a different input, or a finished execution, is refused.
          if (existing.input === input.input && existing.status === 'RUNNING') return sendJson(res, 200, { executionArn, startDate: existing.startDate }, json);
          return sendJsonError(res, new AwsFault('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`), json);
        }
        const execution: SandboxExecution = {
          executionArn,
          stateMachineArn: machine,
          name,
          status: 'RUNNING',
          ...(input.input !== undefined ? { input: input.input } : {}),
          startDate: Date.now() / 1000,
        };
        executions.set(executionArn, execution);
        emulator.onStart?.(name, JSON.parse(input.input ?? '{}'), executionArn);
        return sendJson(res, 200, { executionArn, startDate: execution.startDate }, json);
      }
      case 'ListExecutions': {
        const list = [...executions.values()]
          .filter((e) => e.stateMachineArn === input.stateMachineArn && (input.statusFilter === undefined || e.status === input.statusFilter))
          .sort((a, b) => b.startDate - a.startDate)
          .slice(0, input.maxResults ?? 100);
        return sendJson(res, 200, { executions: list.map(({ input: _input, ...e }) => e) }, json);
      }
      default:
        return sendJsonError(res, new AwsFault('UnknownOperationException', operation), json);
    }
  });
  emulator.url = server.url;
  emulator.close = server.close;
  return emulator;
}
