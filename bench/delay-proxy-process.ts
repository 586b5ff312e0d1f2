/** `delay-proxy-process.ts TARGET_PORT ONE_WAY_MS`: one delay proxy (delay-proxy.ts); prints its port, ends when stdin closes. */
import { startDelayProxy } from './delay-proxy.js';

const [targetPort, oneWayDelayMs] = process.argv.slice(2).map(Number);
const proxy = await startDelayProxy({ targetPort: targetPort!, oneWayDelayMs: oneWayDelayMs! });
process.stdout.write(`${proxy.port}\n`);
process.stdin.resume();
process.stdin.on('end', () => void proxy.close().then(() => process.exit(0)));
