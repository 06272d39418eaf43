import { FacefleetProcess, type SpawnOptions } from '../../tools/harness/facefleet-process';
import { testFileRootsFlag } from './test-roots';

/** The processes a test file spawned, so `afterAll` can kill every one of them even after a failure. */
export class ProcessGroup {
  private readonly processes: FacefleetProcess[] = [];

  /** Spawns `node bin/facefleet.js <args>` and tracks it. */
  spawn(args: readonly string[], options: SpawnOptions = {}): FacefleetProcess {
    const p = FacefleetProcess.spawn(args, options);
    this.processes.push(p);
    return p;
  }

  /** Spawns `facefleet worker` on a queue, metrics server off, with extra flags. */
  spawnWorker(redisUrl: string, queue: string, flags: readonly string[] = [], options: SpawnOptions = {}): FacefleetProcess {
    return this.spawn(['worker', '--queue', queue, '--metrics-port', '0', ...flags], { ...options, env: { REDIS_URL: redisUrl, FACEFLEET_FILE_ROOTS: testFileRootsFlag(), ...options.env } });
  }

  /** SIGKILLs every process still running and waits for them. */
  async killAll(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.kill()));
  }
}
