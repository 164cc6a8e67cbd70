import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../support/process-alive';
import { pollUntil } from '../support/wait-for';

describe('Servers of a test process that dies', () => {
  it('are ended even when the test process is killed with SIGKILL', async () => {
    const fixture = join(__dirname, 'abandoned-servers.fixture.ts');
    const { stdout, stderr, signal } = await new Promise<{
      stdout: string;
      stderr: string;
      signal: string | null;
    }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['-r', '@swc-node/register', fixture],
        { timeout: 60_000 },
        (_, stdout, stderr) =>
          resolve({ stdout, stderr, signal: child.signalCode }),
      );
    });
    expect({ signal, stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });
    const { pids, dirs } = JSON.parse(stdout) as {
      pids: number[];
      dirs: string[];
    };
    try {
      expect(pids).toHaveLength(2);
      await pollUntil(
        async () => !pids.some(processAlive),
        `the abandoned servers (pids ${pids.join(', ')}) to be ended`,
        { timeoutMs: 10_000 },
      );
    } finally {
      // Should the test fail, end the servers it started; SIGQUIT also makes
      // the postmaster take its backends down.
      for (const pid of pids.filter(processAlive)) process.kill(pid, 'SIGQUIT');
      // Nothing removes the directories of a process that died.
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });
});
