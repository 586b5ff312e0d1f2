/** EKS DescribeCluster reduced to endpoint, CA and network: what a usable answer needs, and how a bad one fails. */
import { afterEach, describe, expect, it } from '@jest/globals';
import { DescribeClusterCommand, EKSClient, ResourceNotFoundException } from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { describeEksCluster } from '../../../lib/eks/cluster.js';

const eks = mockClient(EKSClient);
afterEach(() => {
  eks.reset();
});

const client = () => new EKSClient({ region: 'us-east-1' });
const cluster = {
  name: 'spinnaker',
  arn: 'arn:aws:eks:us-east-1:123456789012:cluster/spinnaker',
  status: 'ACTIVE' as const,
  endpoint: 'https://ABC.gr7.us-east-1.eks.amazonaws.com',
  certificateAuthority: { data: 'TFMwdExTMUNSVWRKVGlCRFJWSlVTVVpKUTBGVVJTMHRMUzB0Q2c9PQ==' },
  resourcesVpcConfig: { vpcId: 'vpc-1', subnetIds: ['subnet-a', 'subnet-b'], clusterSecurityGroupId: 'sg-cluster', securityGroupIds: ['sg-extra', 'sg-cluster'] },
};

describe('describeEksCluster', () => {
  it('returns the endpoint, CA and network, the cluster security group first and once', async () => {
    eks.on(DescribeClusterCommand, { name: 'spinnaker' }).resolves({ cluster });
    await expect(describeEksCluster(client(), 'spinnaker')).resolves.toStrictEqual({
      name: 'spinnaker',
      arn: cluster.arn,
      endpoint: cluster.endpoint,
      caData: cluster.certificateAuthority.data,
      vpcId: 'vpc-1',
      subnetIds: ['subnet-a', 'subnet-b'],
      securityGroupIds: ['sg-cluster', 'sg-extra'],
    });
  });

  it('a cluster that is not ACTIVE -> AwsResourceBusyError (retried)', async () => {
    eks.on(DescribeClusterCommand).resolves({ cluster: { ...cluster, status: 'UPDATING' } });
    await expect(describeEksCluster(client(), 'spinnaker')).rejects.toMatchObject({ name: 'AwsResourceBusyError', retryable: true, message: 'EKS cluster spinnaker is UPDATING, not ACTIVE' });
  });

  it('an answer without what we need -> InvalidAwsResponseError naming every missing field', async () => {
    eks.on(DescribeClusterCommand).resolves({ cluster: { name: 'spinnaker', status: 'ACTIVE', resourcesVpcConfig: { subnetIds: [] } } });
    await expect(describeEksCluster(client(), 'spinnaker')).rejects.toMatchObject({
      name: 'InvalidAwsResponseError',
      message: 'EKS DescribeCluster spinnaker is missing endpoint, certificateAuthority.data, resourcesVpcConfig.vpcId, resourcesVpcConfig.subnetIds',
    });
    eks.on(DescribeClusterCommand).resolves({});
    await expect(describeEksCluster(client(), 'spinnaker')).rejects.toMatchObject({ name: 'InvalidAwsResponseError', message: 'EKS DescribeCluster spinnaker returned no cluster' });
  });

  it('no such cluster -> AwsResourceNotFoundError', async () => {
    eks.on(DescribeClusterCommand).rejects(new ResourceNotFoundException({ message: 'No cluster found for name: spinnaker.', $metadata: { httpStatusCode: 404 } }));
    await expect(describeEksCluster(client(), 'spinnaker')).rejects.toMatchObject({
      name: 'AwsResourceNotFoundError',
      message: 'EKS DescribeCluster spinnaker: ResourceNotFoundException: No cluster found for name: spinnaker.',
    });
  });
});
