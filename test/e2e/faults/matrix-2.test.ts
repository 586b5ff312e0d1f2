/** Shard 2 of the fault matrix (test/support/fault-matrix-shard.ts). */
import { describeMatrixShard } from '../../support/fault-matrix-shard.js';

describeMatrixShard(1, 2);
