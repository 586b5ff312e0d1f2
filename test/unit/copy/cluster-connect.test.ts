/**
 * The options the cluster client is built with, for an ElastiCache configuration endpoint over
 * TLS: the ioredis README's "Special note: AWS ElastiCache Clusters with TLS" asks for a
 * `dnsLookup` that keeps hostnames and `redisOptions.tls`. The cluster source lacked the former.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterClient, SOURCE } from '../../../lib/copy/cluster.js';

const HOST = 'clustercfg.spin-redis.abc123.use1.cache.amazonaws.com';

describe('clusterClient', () => {
  it('rediss-cluster:// source: TLS with the CA and the endpoint as server name, hostnames kept (dnsLookup), password and name on every node', async () => {
    const caFile = join(mkdtempSync(join(tmpdir(), 'cluster-connect-')), 'ca.pem');
    writeFileSync(caFile, 'PEM OF THE CA');
    const cluster = clusterClient({ url: `rediss-cluster://${HOST}:6379`, password: 'Cluster-Passw0rd', caFile }, SOURCE);
    try {
      expect(cluster.options.redisOptions).toMatchObject({ tls: { servername: HOST, ca: 'PEM OF THE CA' }, password: 'Cluster-Passw0rd', connectionName: 'spin-elasticache-cluster' });
      // ioredis's default (dns.lookup) would give 127.0.0.1.
      const looked = await new Promise((resolve, reject) => cluster.options.dnsLookup!('localhost', (error, address) => (error ? reject(error) : resolve(address))));
      expect(looked).toBe('localhost');
      expect(cluster.options).toMatchObject({ scaleReads: 'master', maxRedirections: 32, lazyConnect: true });
    } finally {
      cluster.disconnect();
    }
  });

  it('redis-cluster://: no TLS', () => {
    const cluster = clusterClient({ url: 'redis-cluster://10.0.0.1:6379,10.0.0.2:6379' }, SOURCE);
    try {
      expect(cluster.options.redisOptions?.tls).toBeUndefined();
    } finally {
      cluster.disconnect();
    }
  });
});
