#!/usr/bin/env node
// Checks that this machine has what `npm test` needs from the system, before vitest starts:
//   - a Vulkan driver that Dawn (npm `webgpu`) accepts: a real GPU's driver, or lavapipe
//     (Mesa's CPU driver, mesa-vulkan-drivers >= 24) plus the Vulkan loader (libvulkan.so.1)
//   - Debian's Chromium at /usr/bin/chromium with its bundled SwiftShader (browser tests)
//   - python3 with torch (numerics parity tests)
// When something is missing and we are root on Debian, runs scripts/install-system.sh; otherwise
// prints the command to run and exits 1. Takes well under a second when everything is present.
//
// Environment: WGPT_SKIP_SYSTEM_CHECK=1 skips all of this (e.g. a GPU machine with no registry
// access, running only the Node tests); WGPT_CHROMIUM overrides the browser path (as in the
// browser tests); WGPT_PYTHON names the python to check for torch.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const t0 = performance.now();

if (process.env.WGPT_SKIP_SYSTEM_CHECK === '1') {
  console.log('ensure-system: skipped (WGPT_SKIP_SYSTEM_CHECK=1)');
  process.exit(0);
}

const LAVAPIPE_ICDS = ['/usr/share/vulkan/icd.d/lvp_icd.json', '/usr/share/vulkan/icd.d/lvp_icd.x86_64.json'];
const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib64'];

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000, ...opts });
}

/** Like run(), but asynchronous, so the slow checks (Dawn, python) overlap. */
function runAsync(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    let stdout = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000, ...opts });
    child.stdout.on('data', (d) => (stdout += d));
    child.on('error', () => resolve({ status: null, stdout }));
    child.on('close', (status) => resolve({ status, stdout }));
  });
}

function isExecutable(path) {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function hasVulkanLoader() {
  if (LIB_DIRS.some((d) => existsSync(join(d, 'libvulkan.so.1')))) return true;
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    if (existsSync(ldconfig)) return /libvulkan\.so\.1\b/.test(run(ldconfig, ['-p']).stdout ?? '');
  }
  return false;
}

/** Installed Debian package version, or null. */
function debVersion(pkg) {
  const r = run('dpkg-query', ['-W', '-f=${Version}', pkg]);
  return r.status === 0 && r.stdout ? r.stdout.trim() : null;
}

/**
 * Ask Dawn for an adapter in a child process (a live Dawn instance keeps a process alive, and a
 * broken driver may crash it). Tries the loader's default drivers, then lavapipe explicitly, as
 * src/gpu/device.ts does. Returns a one-line adapter description, or null.
 */
async function dawnAdapter() {
  const probe = `
    import { create } from 'webgpu';
    const a = await create([]).requestAdapter();
    const i = a?.info ?? {};
    console.log('ADAPTER ' + JSON.stringify(a ? [i.vendor, i.architecture, i.description || i.device].filter(Boolean).join(' / ') : null));
    process.exit(0);`;
  for (const env of probeEnvs()) {
    const r = await runAsync(process.execPath, ['--input-type=module', '-e', probe], { cwd: root, env });
    const line = (r.stdout ?? '').split('\n').find((l) => l.startsWith('ADAPTER '));
    const name = line ? JSON.parse(line.slice(8)) : null;
    if (name) return name;
  }
  return null;
}

/** The environments the Dawn probe tries: as given, then (unless VK_ICD_FILENAMES is set) lavapipe's ICD. */
function probeEnvs() {
  const icd = LAVAPIPE_ICDS.find((p) => existsSync(p));
  return [process.env, ...(icd && !process.env.VK_ICD_FILENAMES ? [{ ...process.env, VK_ICD_FILENAMES: icd }] : [])];
}

/** Each check: { what, ok, detail } where detail says what was found or what is wrong. */
async function checkVulkan() {
  const what = 'Vulkan driver for Dawn';
  const loader = hasVulkanLoader();
  const haveDawn = existsSync(join(root, 'node_modules/webgpu/package.json'));
  if (loader && haveDawn) {
    const name = await dawnAdapter();
    if (name) return { what, ok: true, detail: name };
  }
  const problems = [];
  if (!haveDawn) problems.push('node_modules/webgpu is not installed (run `npm ci`)');
  if (!loader) problems.push('the Vulkan loader libvulkan.so.1 is missing (Debian: libvulkan1)');
  const mesa = debVersion('mesa-vulkan-drivers');
  const icd = LAVAPIPE_ICDS.find((p) => existsSync(p));
  if (!icd) problems.push('no GPU driver answered and lavapipe is not installed (Debian: mesa-vulkan-drivers >= 24 from bookworm-backports)');
  else if (mesa && !/^(2[4-9]|[3-9][0-9])\./.test(mesa)) problems.push(`lavapipe from mesa-vulkan-drivers ${mesa} is too old for Dawn (needs >= 24, from bookworm-backports)`);
  else if (loader && haveDawn) {
    const tried = probeEnvs().map((e) => `VK_ICD_FILENAMES=${e.VK_ICD_FILENAMES ?? '(unset)'}`).join(', then ');
    problems.push(`Dawn found no adapter (tried ${tried})`);
  }
  return { what, ok: false, detail: problems.join('; '), needsNpm: !haveDawn };
}

function checkChromium() {
  const what = 'Chromium';
  const path = process.env.WGPT_CHROMIUM || '/usr/bin/chromium';
  if (!isExecutable(path)) return { what, ok: false, detail: `${path} not found (Debian: chromium)` };
  // Debian's package bundles SwiftShader, which gives headless WebGPU without a GPU.
  if (!process.env.WGPT_CHROMIUM && !existsSync('/usr/lib/chromium/libvk_swiftshader.so')) {
    return { what, ok: false, detail: `${path} has no /usr/lib/chromium/libvk_swiftshader.so: not Debian's chromium package` };
  }
  return { what, ok: true, detail: path };
}

async function checkTorch() {
  const what = 'python3 with torch';
  // find_spec instead of `import torch`: the import alone takes over a second.
  const code = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('torch') else 1)";
  const pythons = process.env.WGPT_PYTHON ? [process.env.WGPT_PYTHON] : ['python3', '/usr/bin/python3'];
  const found = await Promise.all(pythons.map((py) => runAsync(py, ['-c', code])));
  const i = found.findIndex((r) => r.status === 0);
  if (i >= 0) return { what, ok: true, detail: `torch in ${pythons[i]}` };
  return { what, ok: false, detail: `no torch in ${pythons.join(' or ')} (Debian: python3-torch)` };
}

function checkAll() {
  return Promise.all([checkVulkan(), checkChromium(), checkTorch()]);
}

function summary(results) {
  return results.map((r) => `${r.ok ? 'ok     ' : 'MISSING'} ${r.what}: ${r.detail}`).join('\n');
}

let results = await checkAll();
if (results.every((r) => r.ok)) {
  const ms = Math.round(performance.now() - t0);
  console.log(`ensure-system: ok in ${ms} ms (${results.map((r) => r.detail).join('; ')})`);
  process.exit(0);
}

console.error(`ensure-system: the tests need more from this machine:\n${summary(results)}`);
if (results.some((r) => r.needsNpm)) {
  console.error('Run `npm ci` first (it installs the webgpu package that the check uses), then `npm test` again.');
  process.exit(1);
}

const isRoot = process.getuid?.() === 0;
const debian = existsSync('/etc/debian_version') && isExecutable('/usr/bin/apt-get');
if (isRoot && debian) {
  console.error('ensure-system: running scripts/install-system.sh');
  const r = spawnSync('bash', [join(root, 'scripts/install-system.sh')], { stdio: 'inherit' });
  results = await checkAll();
  if (r.status === 0 && results.every((x) => x.ok)) {
    console.log(`ensure-system: ok after install\n${summary(results)}`);
    process.exit(0);
  }
  console.error(`ensure-system: still missing after scripts/install-system.sh (exit ${r.status}):\n${summary(results)}`);
  process.exit(1);
}

if (debian) {
  console.error(`Install them with:\n  sudo bash ${join(root, 'scripts/install-system.sh')}\nthen run \`npm test\` again.`);
} else {
  const os = existsSync('/etc/os-release') ? (readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? 'this system') : process.platform;
  console.error(
    `scripts/install-system.sh supports Debian bookworm; on ${os} install the missing parts above with the system's package manager ` +
      '(a Vulkan driver, or Mesa lavapipe >= 24, and the Vulkan loader; Chromium with SwiftShader; PyTorch for python3), ' +
      'set WGPT_CHROMIUM / WGPT_PYTHON if they live elsewhere, or set WGPT_SKIP_SYSTEM_CHECK=1 to skip this check.',
  );
}
process.exit(1);
