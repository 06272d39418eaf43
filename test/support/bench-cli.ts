import { FacefleetProcess } from '../../tools/harness/facefleet-process';

/** How a `facefleet bench` run ended: its exit code and output. */
export interface BenchRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/facefleet.js <args>` from the repository root with facefleet's variables scrubbed
 * (the model cache excepted), so the benchmark's settings come from its flags alone, not from the
 * test runner's environment. Killed after `timeoutMs`.
 */
export async function runBenchCli(args: string[], timeoutMs = 300_000): Promise<BenchRun> {
  const child = FacefleetProcess.spawn(args, { scrub: /^(FACEFLEET_(?!MODEL_CACHE$)|REDIS_URL$)/ });
  try {
    const { code } = await child.waitForExit(timeoutMs);
    return { code, stdout: child.stdout, stderr: child.stderr };
  } finally {
    await child.kill();
  }
}
