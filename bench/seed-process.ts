/** Seeds a Redis in its own process, so the benchmark's memory figure is the copier's alone. */
import { randomBytes } from 'node:crypto';
import { connectRedis } from '../lib/redis/connect.js';
import { seedSpinnakerData } from '../sandbox/seed.js';

const [url, keys, size] = process.argv.slice(2);
const full = size === 'full';
const redis = await connectRedis({ url: url! });
// `full`: the big keys of the acceptance criteria (1M-field hash, 1M-member zset, 100 MB string).
const seed = await seedSpinnakerData(redis, { keys: Number(keys), bigKeyItems: full ? 1_000_000 : 100_000 });
const stringBytes = full ? 100 * 1024 * 1024 : 20 * 1024 * 1024;
// Incompressible, so DUMP cannot shrink it below the chunking threshold.
for (let offset = 0; offset < stringBytes; offset += 8 * 1024 * 1024) await redis.append('bench:big-string', randomBytes(Math.min(8 * 1024 * 1024, stringBytes - offset)));
redis.disconnect();
process.stdout.write(JSON.stringify(seed));
