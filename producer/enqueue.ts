/**
 * Entry point of a producer: `node dist/producer/enqueue.js [flags] [keys…]` is `facefleet enqueue`
 * (src/cli/commands/enqueue.ts reads the config and streams the keys into the queue as one run).
 */
import { main } from '../src/cli/main';
import { sizeThreadPool } from '../src/lifecycle/thread-pool';

sizeThreadPool();
main([...process.argv.slice(0, 2), 'enqueue', ...process.argv.slice(2)]);
