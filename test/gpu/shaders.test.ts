import { describe, expect, it } from 'vitest';
import { hoistDirectives, shaderSource } from '../../src/gpu/shaders.ts';

describe('shader sources', () => {
  it('hoists directives above common.wgsl and keeps every line number', () => {
    const src = '// common\nfn f() {}\n#x\n  enable subgroups;\nfn g() {}\nenable f16, subgroups;\n// enable not_this;\n';
    const out = hoistDirectives(src);
    expect(out.split('\n')).toHaveLength(src.split('\n').length);
    expect(out.split('\n')[0]).toBe('enable subgroups; enable f16, subgroups; // common');
    expect(out.split('\n')[3]).toBe('');
    expect(out).toContain('// enable not_this;');
    expect(hoistDirectives('fn f() {}\n')).toBe('fn f() {}\n');
    // trailing comments stay behind; requires and diagnostic directives move too
    const more = hoistDirectives('// c\nfn f() {}\nenable f16; // half\n  requires readonly_and_readwrite_storage_textures;\ndiagnostic(off, derivative_uniformity);\n');
    expect(more.split('\n')[0]).toBe('enable f16; requires readonly_and_readwrite_storage_textures; diagnostic(off, derivative_uniformity); // c');
    expect(more.split('\n')).toHaveLength(6);
  });

  it('enables subgroups in the matmul module only under SUBGROUPS', () => {
    const defs = { A_VEC4: false, B_VEC4: false, SHARED: false };
    const on = shaderSource('matmul', { ...defs, SUBGROUPS: true });
    const off = shaderSource('matmul', { ...defs, SUBGROUPS: false });
    expect(on.startsWith('enable subgroups; ')).toBe(true);
    expect(on).toContain('fn matmul_windows_sg(');
    expect(off).not.toMatch(/^\s*enable /m);
    expect(off).not.toContain('fn matmul_windows_sg(');
    expect(off).toContain('fn matmul_windows(');
  });
});
