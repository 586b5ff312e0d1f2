/**
 * Simulated fiat, following fiat-roles/.../permissions/RedisPermissionsRepository.java and
 * fiat-roles/.../roles/UserRolesSyncer.java:
 *   - a full resync under the kork lock `{korkLock:fiat.userrolessyncer}` (kork-jedis
 *     RedisLockManager: EVAL acquire with SET NX EX, EVAL release that leaves an EXPIRE of the
 *     success interval, so the key blocks the next sync until then);
 *   - put(user): one pipeline of SADD/SREM `roles:{role}`, per resource type SET <uuid> <lz4>
 *     then RENAME <uuid> to the user's key, TIME, SADD users;
 *   - remove(user): SREM users and roles, DEL every resource key.
 * Values are LZ4 blocks with a 4-byte length (LZ4CompressorWithLength); here literal-only
 * blocks, which any LZ4 decoder reads. The sync runs every 20 s instead of 10 min (sandbox time).
 */
import { randomUUID } from 'node:crypto';
import type { LedgerOp } from '../ledger.js';
import { APPS, hashRandom, ServiceInstance, type InstanceOptions } from '../services.js';

const PREFIX = 'spinnaker:fiat';
const LOCK = '{korkLock:fiat.userrolessyncer}';
const SYNC_INTERVAL_S = 20;
const RESOURCES = ['accounts', 'applications', 'service_accounts', 'roles', 'build_services'];
const ROLES = ['dev', 'ops', 'sre', 'qa', 'admins'];
export const LIVE_USERS = 30;
const ACQUIRE = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 'OK' end return redis.call('GET', KEYS[1])";
const RELEASE = "local v = redis.call('GET', KEYS[1]) if v and cjson.decode(v)['ownerName'] == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0";

/** An LZ4 block holding `data` as one literal run, after a little-endian 4-byte length. */
export function lz4WithLength(data: Buffer): Buffer {
  const n = data.length;
  const header = Buffer.alloc(4);
  header.writeInt32LE(n);
  const ext: number[] = [];
  if (n >= 15) {
    let rest = n - 15;
    while (rest >= 255) {
      ext.push(255);
      rest -= 255;
    }
    ext.push(rest);
  }
  return Buffer.concat([header, Buffer.from([Math.min(n, 15) << 4, ...ext]), data]);
}

/** Who has which roles at time t (roles change every sync or so). */
function rolesOf(user: string, t: number): string[] {
  const epoch = Math.floor(t / (SYNC_INTERVAL_S * 1000));
  return ROLES.filter((r) => hashRandom(`${user}:${r}:${Math.floor((epoch + user.length) / 2)}`) < 0.35);
}

export class FiatInstance extends ServiceInstance {
  constructor(options: InstanceOptions) {
    super('fiat', options);
  }

  protected begin(): void {
    this.every(3000, () => this.syncIfDue());
  }

  private async syncIfDue(): Promise<void> {
    const now = Date.now();
    const lockValue = JSON.stringify({
      leaseDurationMillis: 630_000,
      successIntervalMillis: SYNC_INTERVAL_S * 1000,
      ownerName: this.pod,
      ownerSystemTimestamp: now,
      version: 1,
      name: 'fiat.userrolessyncer',
    });
    const got = await this.writeIf(
      [{ op: 'set', key: LOCK, value: lockValue, ttlMs: 630_000 }],
      (r) => r.eval(ACQUIRE, 1, LOCK, lockValue, '630'),
      (out) => out === 'OK',
    );
    if (got !== 'OK') return;
    let ok = true;
    try {
      for (let u = 0; u < LIVE_USERS; u++) {
        const user = `user${u}@example.com`;
        if (hashRandom(`${user}:gone:${Math.floor(now / 60_000)}`) < 0.05) await this.remove(user);
        else await this.put(user, now);
      }
    } catch {
      ok = false;
    }
    const interval = ok ? SYNC_INTERVAL_S : SYNC_INTERVAL_S;
    // RELEASE extends only a lock this pod still owns (kork's RedisLockManager checks ownerName).
    await this.writeIf(
      [{ op: 'expire', key: LOCK, ttlMs: interval * 1000 }],
      (r) => r.eval(RELEASE, 1, LOCK, this.pod, String(interval)),
      (out) => out === 1,
    );
  }

  private async put(user: string, t: number): Promise<void> {
    const roles = rolesOf(user, t);
    const old = ROLES.filter((r) => !roles.includes(r));
    const ops: LedgerOp[] = [];
    const p = this.redis.pipeline();
    for (const r of roles) {
      p.sadd(`${PREFIX}:roles:${r}`, user);
      ops.push({ op: 'sadd', key: `${PREFIX}:roles:${r}`, members: [user] });
    }
    for (const r of old) {
      p.srem(`${PREFIX}:roles:${r}`, user);
      ops.push({ op: 'srem', key: `${PREFIX}:roles:${r}`, members: [user] });
    }
    for (const resource of RESOURCES) {
      const key = `${PREFIX}:permissions-v2:${user}:${resource}`;
      const names = resource === 'applications' ? APPS.filter((a) => hashRandom(`${user}:${a}`) < 0.5) : resource === 'roles' ? roles : [];
      if (names.length === 0) {
        p.del(key);
        ops.push({ op: 'del', key });
        continue;
      }
      const value = lz4WithLength(Buffer.from(JSON.stringify(Object.fromEntries(names.map((n) => [n, { name: n, permissions: { READ: roles, WRITE: roles.filter((r) => r !== 'qa') } }])))));
      const temp = randomUUID();
      p.set(temp, value).rename(temp, key);
      ops.push({ op: 'set', key: temp, value }, { op: 'rename', from: temp, to: key });
    }
    p.time().sadd(`${PREFIX}:users`, user);
    ops.push({ op: 'sadd', key: `${PREFIX}:users`, members: [user] });
    await this.write(ops, () => ServiceInstance.exec(p));
  }

  private async remove(user: string): Promise<void> {
    const ops: LedgerOp[] = [{ op: 'srem', key: `${PREFIX}:users`, members: [user] }];
    const p = this.redis.pipeline().srem(`${PREFIX}:users`, user);
    for (const r of ROLES) {
      p.srem(`${PREFIX}:roles:${r}`, user);
      ops.push({ op: 'srem', key: `${PREFIX}:roles:${r}`, members: [user] });
    }
    for (const resource of RESOURCES) {
      p.del(`${PREFIX}:permissions-v2:${user}:${resource}`);
      ops.push({ op: 'del', key: `${PREFIX}:permissions-v2:${user}:${resource}` });
    }
    await this.write(ops, () => ServiceInstance.exec(p));
  }
}
