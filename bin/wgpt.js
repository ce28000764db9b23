#!/usr/bin/env node
// `npx wgpt ...`: runs the built CLI (dist/cli.js); in a source checkout without a build, runs
// src/cli/main.ts through tsx.
//
// The CLI runs in a child process whose stderr passes through a filter: Dawn's Vulkan backend
// prints harmless "Warning: max...artificially reduced" lines on software adapters (lavapipe)
// from native code, and an error should be one line a person can read.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';
import { spawn } from 'node:child_process';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

if (process.env.WGPT_CLI_CHILD === '1') {
  const built = join(root, 'dist', 'cli.js');
  globalThis.__WGPT_CLI__ = true;
  if (existsSync(built) && !process.env.WGPT_FROM_SOURCE) {
    await import(pathToFileURL(built).href);
  } else {
    const { execFileSync } = await import('node:child_process');
    if (!existsSync(join(root, 'src', 'gpu', 'shaders.gen.ts'))) execFileSync(process.execPath, [join(root, 'scripts', 'gen-shaders.mjs')]);
    const { register } = await import('tsx/esm/api');
    register();
    await import(pathToFileURL(join(root, 'src', 'cli', 'main.ts')).href);
  }
} else {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, WGPT_CLI_CHILD: '1', WGPT_STDERR_TTY: process.stderr.isTTY ? '1' : '' },
  });
  const noise = /^Warning: max\w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    pending += chunk;
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    const keep = parts.filter((l) => !noise.test(l));
    if (keep.length) process.stderr.write(keep.join('\n') + '\n');
    // progress lines end with \r, not \n: pass them through as they come
    if (pending.includes('\r')) {
      const cut = pending.lastIndexOf('\r') + 1;
      process.stderr.write(pending.slice(0, cut));
      pending = pending.slice(cut);
    }
  });
  // Ctrl-C reaches the child from the terminal itself (same process group): it saves and exits.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('close', (code, signal) => {
    if (pending && !noise.test(pending)) process.stderr.write(pending);
    process.exit(code ?? (signal ? 130 : 1));
  });
}
