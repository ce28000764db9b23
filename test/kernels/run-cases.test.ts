import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// test/run-cases.ts (the vitest-free runner used on machines with a real GPU) imports the case
// files statically, so a bundler can follow them; a new family must be added there too.
describe('test/run-cases.ts', () => {
  it('imports every test/kernels/*.cases.ts', () => {
    const dir = fileURLToPath(new URL('.', import.meta.url));
    const runner = readFileSync(fileURLToPath(new URL('../run-cases.ts', import.meta.url)), 'utf8');
    const files = readdirSync(dir).filter((f) => f.endsWith('.cases.ts'));
    expect(files.length).toBeGreaterThan(0);
    const missing = files.filter((f) => !runner.includes(`from './kernels/${f}'`));
    expect(missing).toEqual([]);
  });
});
