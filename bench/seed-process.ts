/** Seeds a Redis in its own process, so the benchmark's memory figure is the copier's alone. */
import { connectRedis } from '../lib/redis/connect.js';
import { seedSpinnakerData } from '../sandbox/seed.js';

const [url, keys] = process.argv.slice(2);
const redis = await connectRedis({ url: url! });
const seed = await seedSpinnakerData(redis, { keys: Number(keys), bigKeyItems: 100_000 });
await redis.set('bench:big-string', Buffer.alloc(20 * 1024 * 1024, 'x'));
redis.disconnect();
process.stdout.write(JSON.stringify(seed));
