/**
 * Entry point of a worker process: `node dist/workers/worker.js [flags]` is `facefleet worker [flags]`
 * (src/cli/commands/worker.ts reads the config, builds the parts and runs until SIGTERM/SIGINT).
 */
import { main } from '../src/cli/main';
import { sizeThreadPool } from '../src/lifecycle/thread-pool';

sizeThreadPool();
main([...process.argv.slice(0, 2), 'worker', ...process.argv.slice(2)]);
