/**
 * The smaller AWS API emulators the workflow touches: EKS (REST-JSON DescribeCluster),
 * Secrets Manager (JSON 1.1), SNS and STS (query/XML), and Step Functions (JSON 1.0
 * DescribeExecution, for the stale-lock check).
 */
import { randomBytes } from 'node:crypto';
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
            resourcesVpcConfig: { subnetIds: c.subnetIds, securityGroupIds: c.securityGroupIds, clusterSecurityGroupId: c.clusterSecurityGroupId, vpcId: c.vpcId, endpointPublicAccess: false, endpointPrivateAccess: true, publicAccessCidrs: [] },
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
  putSecret(name: string, value: string, tags?: Record<string, string>): string;
  faults: FaultInjector;
}

export async function startSecretsManagerEmulator(region: string, account = '000000000000'): Promise<SecretsManagerEmulator> {
  const secrets = new Map<string, { arn: string; name: string; value: string; tags: Record<string, string> }>();
  const faults = new FaultInjector();
  const find = (id: string) => [...secrets.values()].find((s) => s.arn === id || s.name === id);
  const server = await listen(async (req, body, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.replace('secretsmanager.', '');
    try {
      const injected = faults.take(operation);
      if (injected) throw injected;
      const input = JSON.parse(body.toString() || '{}') as { SecretId?: string; Name?: string; SecretString?: string };
      if (operation === 'GetSecretValue' || operation === 'DescribeSecret') {
        const secret = find(input.SecretId ?? '');
        if (!secret) throw new AwsFault('ResourceNotFoundException', "Secrets Manager can't find the specified secret.", 400);
        if (operation === 'DescribeSecret') sendJson(res, 200, { ARN: secret.arn, Name: secret.name, Tags: Object.entries(secret.tags).map(([Key, Value]) => ({ Key, Value })) });
        else sendJson(res, 200, { ARN: secret.arn, Name: secret.name, SecretString: secret.value, VersionId: 'v1', VersionStages: ['AWSCURRENT'], CreatedDate: 1700000000 });
        return;
      }
      if (operation === 'CreateSecret') {
        const arn = api.putSecret(input.Name ?? '', input.SecretString ?? '');
        sendJson(res, 200, { ARN: arn, Name: input.Name });
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
    putSecret(name, value, tags = {}) {
      const arn = `arn:aws:secretsmanager:${region}:${account}:secret:${name}-${randomBytes(3).toString('hex')}`;
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
    if (action === 'GetCallerIdentity') return sendXml(res, 'GetCallerIdentity', 'https://sts.amazonaws.com/doc/2011-06-15/', { Arn: `arn:aws:iam::${account}:user/sandbox`, UserId: 'AIDASANDBOX', Account: account });
    sendXmlError(res, new AwsFault('InvalidAction', `Unsupported action ${action}`));
  });
}

export interface SfnEmulator extends Listening {
  setExecutionStatus(arn: string, status: string): void;
}

export async function startSfnEmulator(): Promise<SfnEmulator> {
  const executions = new Map<string, string>();
  const server = await listen(async (req, body, res) => {
    const operation = String(req.headers['x-amz-target'] ?? '').replace('AWSStepFunctions.', '');
    const input = JSON.parse(body.toString() || '{}') as { executionArn?: string };
    if (operation !== 'DescribeExecution') return sendJsonError(res, new AwsFault('UnknownOperationException', operation), 'application/x-amz-json-1.0');
    const status = executions.get(input.executionArn ?? '');
    if (!status) return sendJsonError(res, new AwsFault('ExecutionDoesNotExist', `Execution Does Not Exist: '${input.executionArn}'`), 'application/x-amz-json-1.0');
    sendJson(res, 200, { executionArn: input.executionArn, stateMachineArn: input.executionArn?.replace(':execution:', ':stateMachine:').replace(/:[^:]+$/, ''), status, startDate: 1700000000 }, 'application/x-amz-json-1.0');
  });
  return { ...server, setExecutionStatus: (arn, status) => void executions.set(arn, status) };
}
