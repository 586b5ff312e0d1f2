/** What the health check makes of Halyard's redis.yml: anything but our endpoint is critical, and no password is echoed. */
import { describe, expect, it } from '@jest/globals';
import { spinnakerConfigFinding } from '../../../lib/health/check.js';

const primary = { address: 'master.spinnaker-redis.cache.amazonaws.com', port: 6379 };
const finding = (yml: string | undefined) => spinnakerConfigFinding(yml, 'redis.yml', primary, 'spinnaker-redis');

describe('the spinnaker-config finding', () => {
  it('is ok when redis.yml points at the primary endpoint', () => {
    expect(finding(`overrideBaseUrl: rediss://${primary.address}:6379\n`)[1]).toBe('ok');
  });

  it.each([
    ['a file that does not parse', 'overrideBaseUrl: [unclosed\n', /does not parse as YAML/],
    ['an overrideBaseUrl that is not a URL', 'overrideBaseUrl: not a url\n', /not a URL/],
    ['an overrideBaseUrl that is not a string', 'overrideBaseUrl: 42\n', /not a URL/],
    ['no overrideBaseUrl', 'enabled: false\n', /no overrideBaseUrl/],
    ['an empty file', undefined, /no overrideBaseUrl/],
    ['another Redis', 'overrideBaseUrl: redis://:hunter2-secret@spin-redis:6379?password=hunter2-secret\n', /points at spin-redis:6379, not at spinnaker-redis/],
  ])('is critical for %s', (_what, yml, detail) => {
    const [check, status, text] = finding(yml);
    expect({ check, status }).toEqual({ check: 'spinnaker-config', status: 'critical' });
    expect(text).toMatch(detail);
    expect(text).not.toContain('hunter2');
  });
});
