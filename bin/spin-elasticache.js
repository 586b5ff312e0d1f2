#!/usr/bin/env node
// Entry point of the `spin-elasticache` command. The sources are TypeScript; tsx loads them.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
