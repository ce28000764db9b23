/** Running the PyTorch references (Debian's python3-torch under /usr/bin/python3). */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The python that has torch: Debian's /usr/bin/python3 (a pyenv python on PATH may not). */
export function torchPython(): string {
  for (const p of [process.env.WGPT_TORCH_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!p || (p.startsWith('/') && !existsSync(p))) continue;
    try {
      execFileSync(p, ['-c', 'import torch'], { stdio: 'ignore' });
      return p;
    } catch {
      /* try the next */
    }
  }
  throw new Error('PyTorch is not installed: the parity tests need it. On Debian: sudo apt-get install python3-torch (or run scripts/install-system.sh)');
}

export function runTorch(script: string, args: string[]): void {
  execFileSync(torchPython(), [script, ...args], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, OMP_NUM_THREADS: '2' } });
}
