/**
 * Simulated echo, following echo-pubsub-core/.../pubsub/PubsubMessageHandler.java: per Pub/Sub
 * message, GET the completed key (a duplicate with the same CRC32 is skipped), SET the
 * processing key NX EX <ackDeadline> (another echo has it if that fails), then SETEX the
 * completed key with the retention and the payload's CRC32. All plain; keys expire by
 * themselves. Messages are a function of time; some are redelivered, as Pub/Sub does.
 */
import { hashRandom, ServiceInstance, type InstanceOptions } from '../services.js';

const ACK_DEADLINE_S = 50; // 5 x the subscription's default 10 s ack deadline (GooglePubsubSubscriber)
const RETENTION_S = 7 * 86_400;

function crc32(data: string): number {
  let c = ~0;
  for (let i = 0; i < data.length; i++) {
    c ^= data.charCodeAt(i);
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

export class EchoInstance extends ServiceInstance {
  triggered = 0;
  /** Messages refused because redis.enabled is false. */
  refused = 0;
  private n = 0;

  constructor(options: InstanceOptions) {
    super('echo', options);
  }

  /**
   * With `redis.enabled` false, JedisConfig (@ConditionalOnExpression("${redis.enabled:false}"))
   * creates no Redis client: echo starts, and PubsubMessageHandler refuses every message
   * ("Redis is not enabled"), so no Pub/Sub trigger fires.
   */
  override async start(): Promise<void> {
    if (this.options.target.redisEnabled !== false) return super.start();
    this.begin();
  }

  protected begin(): void {
    if (this.options.target.redisEnabled === false) {
      this.every(700, async () => {
        this.refused++;
      });
      return;
    }
    this.every(700, () => this.receive());
  }

  private async receive(): Promise<void> {
    const now = Date.now();
    // A redelivery picks an earlier message id now and then.
    const id = hashRandom(`${this.pod}:${this.n++}`) < 0.15 ? Math.floor(now / 700) - 3 : Math.floor(now / 700);
    const subscription = 'spinnaker-gcr-triggers';
    const payload = JSON.stringify({ action: 'INSERT', digest: `gcr.io/example/app@sha256:${id.toString(16)}` });
    const crc = String(crc32(payload));
    const completed = `{echo:pubsub:completed}:google:${subscription}:${id}`;
    if ((await this.redis.get(completed)) === crc) return;
    const processing = `google:echo-pubsub:${subscription}:${id}`;
    const got = await this.writeIf(
      [{ op: 'set', key: processing, value: this.pod, ttlMs: ACK_DEADLINE_S * 1000 }],
      (r) => r.set(processing, this.pod, 'EX', ACK_DEADLINE_S, 'NX'),
      (out) => out === 'OK',
    );
    if (got !== 'OK') return;
    this.triggered++;
    await this.write([{ op: 'set', key: completed, value: crc, ttlMs: RETENTION_S * 1000 }], (r) => r.setex(completed, RETENTION_S, crc));
  }
}
