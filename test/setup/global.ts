// Vitest global setup: embed the current shaders/*.wgsl before any test imports them.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/gen-shaders.mjs'], { stdio: 'inherit' });
}
