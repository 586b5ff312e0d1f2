/** EKS DescribeCluster, reduced to what the workflow needs: API endpoint, CA and network. */
import { DescribeClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { InvalidAwsResponseError, AwsResourceBusyError } from '../errors.js';
import { awsCall } from '../aws/errors.js';

export interface EksClusterInfo {
  name: string;
  arn: string;
  endpoint: string;
  /** Base64 PEM, as EKS returns it. */
  caData: string;
  vpcId: string;
  subnetIds: string[];
  /** The cluster security group first, then the additional ones. */
  securityGroupIds: string[];
}

export async function describeEksCluster(client: Pick<EKSClient, 'send'>, name: string): Promise<EksClusterInfo> {
  const { cluster } = await awsCall(`EKS DescribeCluster ${name}`, () => client.send(new DescribeClusterCommand({ name })));
  if (!cluster) throw new InvalidAwsResponseError(`EKS DescribeCluster ${name} returned no cluster`);
  if (cluster.status && cluster.status !== 'ACTIVE') throw new AwsResourceBusyError(`EKS cluster ${name} is ${cluster.status}, not ACTIVE`);
  const vpc = cluster.resourcesVpcConfig;
  const missing = [
    !cluster.endpoint && 'endpoint',
    !cluster.certificateAuthority?.data && 'certificateAuthority.data',
    !vpc?.vpcId && 'resourcesVpcConfig.vpcId',
    !vpc?.subnetIds?.length && 'resourcesVpcConfig.subnetIds',
  ].filter(Boolean);
  if (missing.length > 0) throw new InvalidAwsResponseError(`EKS DescribeCluster ${name} is missing ${missing.join(', ')}`);
  const securityGroupIds = [vpc!.clusterSecurityGroupId, ...(vpc!.securityGroupIds ?? [])].filter((id): id is string => Boolean(id));
  return {
    name,
    arn: cluster.arn ?? '',
    endpoint: cluster.endpoint!,
    caData: cluster.certificateAuthority!.data!,
    vpcId: vpc!.vpcId!,
    subnetIds: vpc!.subnetIds!,
    securityGroupIds: [...new Set(securityGroupIds)],
  };
}
