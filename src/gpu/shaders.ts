/**
 * WGSL sources, embedded at build time (src/gpu/shaders.gen.ts is generated from shaders/*.wgsl).
 *
 * Each kernel family's module is `common.wgsl` + `<family>.wgsl`. Where `override` constants
 * cannot express something (a private array's length, a type), the source uses `${NAME}` and
 * `#if ${NAME}` ... `#endif`, resolved by the wgsl-preprocessor package from `defines`.
 */
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { WGSL } from './shaders.gen.ts';
import type { Defines } from './context.ts';

const cache = new Map<string, string>();
const extra: Record<string, string> = {};

export function kernelNames(): string[] {
  return [...Object.keys(WGSL), ...Object.keys(extra)].filter((k) => k !== 'common');
}

/**
 * Add a kernel family at run time (for models built on wgpt's runtime): `source` is WGSL, with
 * common.wgsl prepended like the built-in families. Dispatch it with gpu.dispatch(name, entry, ...).
 */
export function registerKernel(name: string, source: string): void {
  if (name in WGSL) throw new Error(`kernel '${name}' is built in and cannot be replaced`);
  extra[name] = source;
  for (const k of [...cache.keys()]) if (k.startsWith(`${name}:`)) cache.delete(k);
}

/** The full WGSL for `kernel` with `defines` substituted. */
export function shaderSource(kernel: string, defines: Defines = {}): string {
  const key = `${kernel}:${JSON.stringify(defines)}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const body = WGSL[kernel] ?? extra[kernel];
  if (body === undefined) throw new Error(`unknown kernel '${kernel}' (have: ${kernelNames().join(', ')})`);
  const src = hoistDirectives(preprocess(`${WGSL.common ?? ''}\n${body}`, defines, kernel));
  cache.set(key, src);
  return src;
}

/**
 * WGSL wants its directives (`enable`, `requires`, `diagnostic(...)`) before every declaration,
 * but common.wgsl comes first and a family may enable an extension only under a define
 * (`#if ${SUBGROUPS}` ... `enable subgroups;`): move them to the top. The line count stays the
 * same (each is replaced by an empty line and the directives share the first line, without their
 * trailing comments), so compiler messages keep their line numbers. Directives are found line by
 * line, so one written inside a block comment would move too (no source here does that).
 */
const DIRECTIVE = /^[ \t]*((?:enable|requires)[ \t]+[A-Za-z0-9_, \t]+;|diagnostic[ \t]*\([^)\n]*\)[ \t]*;)[ \t]*(?:\/\/.*)?$/gm;

export function hoistDirectives(src: string): string {
  const found: string[] = [];
  const rest = src.replace(DIRECTIVE, (_m, directive: string) => {
    found.push(directive.trim());
    return '';
  });
  return found.length ? `${found.join(' ')} ${rest}` : src;
}

/** Split `${NAME}` placeholders into a template call of wgsl-preprocessor. */
export function preprocess(src: string, defines: Defines, kernel = 'shader'): string {
  const strings: string[] = [];
  const values: unknown[] = [];
  const re = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
  let last = 0;
  for (let m = re.exec(src); m; m = re.exec(src)) {
    if (!(m[1] in defines)) throw new Error(`${kernel}.wgsl: template value \${${m[1]}} has no define (given: ${Object.keys(defines).join(', ') || 'none'})`);
    strings.push(src.slice(last, m.index));
    values.push(defines[m[1]]);
    last = m.index + m[0].length;
  }
  strings.push(src.slice(last));
  if (values.length === 0) return src;
  const tsa = Object.assign([...strings], { raw: [...strings] }) as unknown as TemplateStringsArray;
  return wgsl(tsa, ...values);
}
