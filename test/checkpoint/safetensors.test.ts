import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32,
  CheckpointError,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  getFloat32Tensor,
  readSafetensors,
  writeSafetensors,
  type TensorToWrite,
} from '../../src/checkpoint/safetensors.ts';
import { randn, rng } from '../util/check.ts';

/** A safetensors file built by hand from the spec, independent of writeSafetensors. */
function build(header: unknown, data: number[] | Uint8Array, opts: { length?: number; pad?: boolean } = {}): Uint8Array {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  if (opts.pad !== false) while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += ' ';
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  const n = BigInt(opts.length ?? h.length);
  for (let i = 0; i < 8; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** Little-endian bytes of float32 values, written byte by byte from the bit pattern. */
function f32le(values: number[]): number[] {
  const bytes: number[] = [];
  for (const v of values) {
    const u = new Uint32Array(new Float32Array([v]).buffer)[0];
    bytes.push(u & 0xff, (u >>> 8) & 0xff, (u >>> 16) & 0xff, u >>> 24);
  }
  return bytes;
}

function checkpointError(fn: () => unknown, re: RegExp, tensor?: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected CheckpointError matching ${re}`).toBeInstanceOf(CheckpointError);
  const e = err as CheckpointError;
  expect(e.code).toBe('CHECKPOINT');
  expect(e.message).toMatch(re);
  if (tensor !== undefined) expect(e.tensor).toBe(tensor);
}

describe('safetensors: reading hand-built files', () => {
  it('reads F32, I32, I64, F16, BF16 tensors and metadata (values from the spec byte layout)', () => {
    const data = [
      ...f32le([1, -2.5, 3.25, 1e-8, -0, 65504]), // w: F32 [2, 3]  bytes [0, 24)
      0x07, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff, // ids: I32 [2] = [7, -2]  [24, 32)
      0x05, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, // big: I64 [1] = 2^40 + 5  [32, 40)
      0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x7c, 0x00, 0xfc, // h: F16 [6]  [40, 52)
      0x80, 0x3f, 0x49, 0x40, 0x80, 0xbf, 0x80, 0x7f, // b: BF16 [4]  [52, 60)
    ];
    const header = {
      __metadata__: { format: 'pt', note: 'héllo' },
      'h.0.attn.c_attn.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      ids: { dtype: 'I32', shape: [2], data_offsets: [24, 32] },
      big: { dtype: 'I64', shape: [1], data_offsets: [32, 40] },
      h: { dtype: 'F16', shape: [6], data_offsets: [40, 52] },
      b: { dtype: 'BF16', shape: [2, 2], data_offsets: [52, 60] },
    };
    const f = readSafetensors(build(header, data));
    expect(f.metadata).toEqual({ format: 'pt', note: 'héllo' });
    expect([...f.tensors.keys()]).toEqual(['h.0.attn.c_attn.weight', 'ids', 'big', 'h', 'b']);
    const w = f.tensors.get('h.0.attn.c_attn.weight')!;
    expect(w.dtype).toBe('F32');
    expect(w.shape).toEqual([2, 3]);
    expect(w.data).toBeInstanceOf(Float32Array);
    expect(Array.from(w.data as Float32Array)).toEqual([1, -2.5, 3.25, Math.fround(1e-8), -0, 65504]);
    expect(Array.from(f.tensors.get('ids')!.data as Int32Array)).toEqual([7, -2]);
    expect(Array.from(f.tensors.get('big')!.data as BigInt64Array)).toEqual([2n ** 40n + 5n]);
    const h = f.tensors.get('h')!;
    expect(h.dtype).toBe('F16');
    expect(h.data).toBeInstanceOf(Float32Array);
    expect(Array.from(h.data as Float32Array)).toEqual([1, -2, 65504, 2 ** -24, Infinity, -Infinity]);
    const b = f.tensors.get('b')!;
    expect(b.shape).toEqual([2, 2]);
    expect(Array.from(b.data as Float32Array)).toEqual([1, 3.140625, -1, Infinity]);
  });

  it('reads tensors at unaligned offsets and from a view into a larger buffer', () => {
    const data = [1, 2, 3, ...f32le([0.5, -0.75])]; // u: U8 [3] then x: F32 [2] at offset 3
    const file = build({ u: { dtype: 'U8', shape: [3], data_offsets: [0, 3] }, x: { dtype: 'F32', shape: [2], data_offsets: [3, 11] } }, data);
    const big = new Uint8Array(file.length + 5);
    big.set(file, 5);
    for (const bytes of [file, big.subarray(5)]) {
      const f = readSafetensors(bytes);
      expect(Array.from(f.tensors.get('u')!.data as Uint8Array)).toEqual([1, 2, 3]);
      expect(Array.from(f.tensors.get('x')!.data as Float32Array)).toEqual([0.5, -0.75]);
    }
  });

  it('accepts a scalar (shape []), an empty tensor, an unpadded header and no metadata', () => {
    const f = readSafetensors(build({ s: { dtype: 'F32', shape: [], data_offsets: [0, 4] }, e: { dtype: 'F32', shape: [0, 5], data_offsets: [4, 4] } }, f32le([7]), { pad: false }));
    expect(f.metadata).toEqual({});
    expect(Array.from(f.tensors.get('s')!.data as Float32Array)).toEqual([7]);
    expect(f.tensors.get('e')!.data.length).toBe(0);
    expect(readSafetensors(build({}, [])).tensors.size).toBe(0);
  });
});

describe('safetensors: corrupt files throw CheckpointError naming the tensor and values', () => {
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const okData = f32le([1, 2]);

  it('file shorter than 8 bytes', () => {
    checkpointError(() => readSafetensors(new Uint8Array(5)), /file is 5 bytes, shorter than the 8-byte header length field/);
  });
  it('header length past the end of the file', () => {
    checkpointError(() => readSafetensors(build(ok, okData, { length: 1000 })), /header length 1000 runs past the end of the file \(\d+ bytes, header would end at 1008\)/);
  });
  it('absurd header length (> 100 MB, or over maxHeaderBytes)', () => {
    checkpointError(() => readSafetensors(build(ok, okData, { length: 2 ** 40 })), /header length 1099511627776 exceeds the limit of 100000000 bytes/);
    checkpointError(() => readSafetensors(build(ok, okData), { maxHeaderBytes: 16 }), /header length \d+ exceeds the limit of 16 bytes/);
  });
  it("header not starting with '{', not UTF-8, not JSON", () => {
    checkpointError(() => readSafetensors(build('[1, 2]', [])), /header must start with '\{' \(0x7b\), found byte 0x5b/);
    checkpointError(() => readSafetensors(build('', [], { pad: false })), /empty header/);
    const bad = build('{"a\u00e9": 1}', []);
    bad[12] = 0xff; // inside the 2-byte é
    checkpointError(() => readSafetensors(bad), /header \(16 bytes at offset 8\) is not valid UTF-8/);
    checkpointError(() => readSafetensors(build('{"w": {"dtype": "F32",', [])), /header is not valid JSON/);
  });
  it('metadata that is not an object of strings', () => {
    checkpointError(() => readSafetensors(build({ __metadata__: { step: 5 } }, [])), /__metadata__\["step"\] must be a string, got 5/);
    checkpointError(() => readSafetensors(build({ __metadata__: ['x'] }, [])), /__metadata__ must be an object of strings/);
  });
  it('tensor entry that is not an object', () => {
    checkpointError(() => readSafetensors(build({ w: 3 }, [])), /tensor 'w': expected \{dtype, shape, data_offsets\}, got 3/, 'w');
  });
  it('unknown dtype', () => {
    checkpointError(() => readSafetensors(build({ w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, [0, 0])), /tensor 'w': unsupported dtype "F8_E4M3" \(supported: F64, F32, F16, BF16/, 'w');
    checkpointError(() => readSafetensors(build({ w: { shape: [2], data_offsets: [0, 2] } }, [0, 0])), /unsupported dtype undefined/, 'w');
  });
  it('shape with negative, non-integer, non-numeric or huge dimensions', () => {
    const t = (shape: unknown): unknown => ({ 'blk.3.w': { dtype: 'F32', shape, data_offsets: [0, 8] } });
    checkpointError(() => readSafetensors(build(t([2, -1]), okData)), /tensor 'blk.3.w': shape \[2,-1\] has a dimension that is not a non-negative integer: -1/, 'blk.3.w');
    checkpointError(() => readSafetensors(build(t([1.5]), okData)), /not a non-negative integer: 1.5/);
    checkpointError(() => readSafetensors(build(t(['2']), okData)), /not a non-negative integer: "2"/);
    checkpointError(() => readSafetensors(build(t('2'), okData)), /shape must be an array/);
    checkpointError(() => readSafetensors(build(t([1e15, 1e15, 1e15]), okData)), /shape \[1000000000000000,.*needs more bytes than the whole data section holds \(8\)/);
    checkpointError(() => readSafetensors(build(t([2 ** 60]), okData)), /not a non-negative integer/);
  });
  it('data_offsets not matching shape * dtype size', () => {
    checkpointError(
      () => readSafetensors(build({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32le([1, 2, 3]))),
      /tensor 'w': data_offsets \[0, 8\] span 8 bytes, but shape \[3\] of F32 needs 3 x 4 = 12/,
      'w',
    );
    checkpointError(() => readSafetensors(build({ w: { dtype: 'F32', shape: [2], data_offsets: [0] } }, okData)), /data_offsets must be \[begin, end\]/);
    checkpointError(() => readSafetensors(build({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, okData)), /data_offsets \[8, 0\] end before they begin/);
    checkpointError(() => readSafetensors(build({ w: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, okData)), /data_offsets must be/);
  });
  it('offsets out of the file', () => {
    checkpointError(
      () => readSafetensors(build({ w: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, okData)),
      /tensor 'w': data_offsets \[4, 12\] run past the end of the data section \(8 bytes; file \d+ bytes\)/,
      'w',
    );
  });
  it('overlapping tensors, gaps and trailing bytes', () => {
    const two = (b: [number, number]): unknown => ({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: b } });
    checkpointError(() => readSafetensors(build(two([4, 8]), okData)), /tensor 'b': data_offsets \[4, 8\] overlap tensor 'a' at \[0, 8\]/, 'b');
    checkpointError(() => readSafetensors(build(two([12, 16]), f32le([1, 2, 3, 4]))), /tensor 'b': data_offsets \[12, 16\] leave bytes \[8, 12\) of the data section unused/, 'b');
    checkpointError(() => readSafetensors(build(ok, f32le([1, 2, 3]))), /the tensors cover 8 bytes of the data section but it has 12 \(4 trailing bytes\)/);
  });
  it('input that is not a Uint8Array', () => {
    checkpointError(() => readSafetensors([1, 2, 3] as unknown as Uint8Array), /expected the file contents as a Uint8Array/);
  });

  it('fuzz: random byte corruption either reads or throws CheckpointError, nothing else', () => {
    const good = writeSafetensors(
      [
        { name: 'a', dtype: 'F32', shape: [3, 4], data: Float32Array.from(randn(12, 1)) },
        { name: 'b', dtype: 'I64', shape: [2], data: BigInt64Array.from([1n, -1n]) },
        { name: 'c', dtype: 'BF16', shape: [5], data: Float32Array.from(randn(5, 2)) },
      ],
      { step: '10' },
    );
    const r = rng(77);
    let read = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const bytes = good.slice();
      const flips = 1 + Math.floor(r() * 3);
      for (let k = 0; k < flips; k++) {
        const pos = trial % 4 === 0 ? Math.floor(r() * 8) : Math.floor(r() * bytes.length);
        bytes[pos] = Math.floor(r() * 256);
      }
      const cut = trial % 5 === 0 ? bytes.subarray(0, Math.floor(r() * bytes.length)) : bytes;
      try {
        readSafetensors(cut);
        read++;
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw new Error(`trial ${trial}: ${String(e)}`);
      }
    }
    expect(read).toBeGreaterThan(0); // flips inside tensor data still read
  });
});

describe('safetensors: writer', () => {
  const tensors: TensorToWrite[] = [
    { name: 'wte', dtype: 'F32', shape: [5, 3], data: Float32Array.from(randn(15, 3)) },
    { name: 'h.0.ln_1.bias', dtype: 'F32', shape: [3], data: Float32Array.from(randn(3, 4)) },
    { name: '10', dtype: 'I32', shape: [2, 2], data: Int32Array.from([1, -2, 3, 2 ** 31 - 1]) },
    { name: 'step', dtype: 'I64', shape: [], data: BigInt64Array.from([123456789012345n]) },
    { name: 'mask', dtype: 'U8', shape: [3], data: Uint8Array.from([0, 1, 255]) },
    { name: 'half', dtype: 'F16', shape: [4], data: Float32Array.from([1, -2, 0.1, 70000]) },
    { name: 'bhalf', dtype: 'BF16', shape: [2], data: Float32Array.from([1, 3.14159]) },
    { name: 'rawhalf', dtype: 'F16', shape: [1], data: Uint16Array.from([0x3c00]) },
    { name: 'dbl', dtype: 'F64', shape: [1], data: Float64Array.from([Math.PI]) },
    { name: 'empty', dtype: 'F32', shape: [0, 7], data: new Float32Array(0) },
    { name: 'ünï 😀', dtype: 'I8', shape: [1], data: Int8Array.from([-5]) },
  ];

  it('round-trips every dtype, shape and name; keeps the order; converts F16/BF16 with rounding', () => {
    const bytes = writeSafetensors(tensors, { format: 'pt', config: '{"n_layer":2}' });
    const f = readSafetensors(bytes);
    expect(f.metadata).toEqual({ format: 'pt', config: '{"n_layer":2}' });
    expect([...f.tensors.keys()]).toEqual(tensors.map((t) => t.name));
    for (const t of tensors) {
      const got = f.tensors.get(t.name)!;
      expect(got.dtype, t.name).toBe(t.dtype);
      expect(got.shape, t.name).toEqual(t.shape);
      if (t.dtype === 'F16' || t.dtype === 'BF16') continue;
      expect(Array.from(got.data as ArrayLike<number>), t.name).toEqual(Array.from(t.data as ArrayLike<number>));
    }
    expect(Array.from(f.tensors.get('half')!.data as Float32Array)).toEqual([1, -2, f16BitsToF32(0x2e66), Infinity]);
    expect(Array.from(f.tensors.get('bhalf')!.data as Float32Array)).toEqual([1, 3.140625]);
    expect(Array.from(f.tensors.get('rawhalf')!.data as Float32Array)).toEqual([1]);
  });

  it('lays out the header per the spec: u64 length, JSON in the given order, space padding to 8', () => {
    const bytes = writeSafetensors(tensors.slice(0, 3), { a: 'b' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(header.startsWith('{"__metadata__":{"a":"b"},"wte":{"dtype":"F32","shape":[5,3],"data_offsets":[0,60]}')).toBe(true);
    expect(header.indexOf('"h.0.ln_1.bias"')).toBeLessThan(header.indexOf('"10"')); // not reordered like integer keys
    expect(/^[^ ]*\} *$/.test(header)).toBe(true);
    expect(bytes.length).toBe(8 + n + 60 + 12 + 16);
    // data: little-endian float32 of wte[0] right after the header
    expect(Array.from(bytes.subarray(8 + n, 8 + n + 4))).toEqual(f32le([tensors[0].data[0] as number]));
    // no metadata -> no __metadata__ key
    expect(new TextDecoder().decode(writeSafetensors(tensors.slice(0, 1)).subarray(8, 16))).toBe('{"wte":{');
  });

  it('rejects inconsistent tensors with CheckpointError', () => {
    const f32 = new Float32Array(4);
    checkpointError(() => writeSafetensors([{ name: 'w', dtype: 'F32', shape: [3], data: f32 }]), /tensor 'w': shape \[3\] has 3 elements but data has 4/, 'w');
    checkpointError(() => writeSafetensors([{ name: 'w', dtype: 'I32', shape: [4], data: f32 }]), /dtype I32 needs a Int32Array, got Float32Array/);
    checkpointError(() => writeSafetensors([{ name: 'w', dtype: 'F32', shape: [4], data: f32 }, { name: 'w', dtype: 'F32', shape: [4], data: f32 }]), /duplicate tensor name/);
    checkpointError(() => writeSafetensors([{ name: '__metadata__', dtype: 'F32', shape: [4], data: f32 }]), /reserved/);
    checkpointError(() => writeSafetensors([{ name: 'w', dtype: 'F8' as 'F32', shape: [4], data: f32 }]), /unsupported dtype "F8"/);
    checkpointError(() => writeSafetensors([{ name: 'w', dtype: 'F32', shape: [-4], data: f32 }]), /not a non-negative integer: -4/);
    checkpointError(() => writeSafetensors([], { step: 5 as unknown as string }), /metadata value of "step" must be a string/);
  });
});

describe('getFloat32Tensor', () => {
  it('returns float data and names the tensor on a missing name, wrong dtype or wrong shape', () => {
    const f = readSafetensors(
      writeSafetensors([
        { name: 'h.3.attn.c_proj.weight', dtype: 'BF16', shape: [2, 3], data: new Float32Array(6).fill(0.5) },
        { name: 'ids', dtype: 'I32', shape: [1], data: Int32Array.from([1]) },
      ]),
    );
    expect(Array.from(getFloat32Tensor(f, 'h.3.attn.c_proj.weight', [2, 3]))).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
    checkpointError(() => getFloat32Tensor(f, 'h.3.attn.c_proj.weight', [3, 2]), /tensor 'h.3.attn.c_proj.weight': shape \[2, 3\] in the file, expected \[3, 2\]/);
    checkpointError(() => getFloat32Tensor(f, 'wpe'), /tensor 'wpe': missing from the checkpoint \(it has: h.3.attn.c_proj.weight, ids\)/, 'wpe');
    checkpointError(() => getFloat32Tensor(f, 'ids'), /dtype I32 is not a float32/);
  });
});

describe('half-precision conversions', () => {
  it('f16 and bf16: every non-NaN bit pattern survives f32 and back', () => {
    for (let h = 0; h < 65536; h++) {
      const x = f16BitsToF32(h);
      if (Number.isNaN(x)) {
        expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(x)))).toBe(true);
        continue;
      }
      expect(f32ToF16Bits(x)).toBe(h);
      expect(f32ToBf16Bits(bf16BitsToF32(h))).toBe(h);
    }
  });

  it('round to nearest even, overflow to infinity, underflow to zero', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway, even stays
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway, odd rounds up
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00);
    expect(f32ToF16Bits(1e10)).toBe(0x7c00);
    expect(f32ToF16Bits(-1e10)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // halfway to the smallest subnormal, even -> 0
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(1);
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(2); // 1.5 subnormal units, odd rounds up
    expect(f32ToF16Bits(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up into the normal range
    expect(f32ToF16Bits(-0)).toBe(0x8000);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // halfway, even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(bf16BitsToF32(f32ToBf16Bits(NaN)))).toBe(true);
  });
});

describe('Node Buffer input', () => {
  it('reads tensors from a Node Buffer (whose slice() is a view, not a copy)', async () => {
    const { writeSafetensors, readSafetensors } = await import('../../src/checkpoint/safetensors.ts');
    const bytes = writeSafetensors([{ name: 'a', dtype: 'F32', shape: [3], data: new Float32Array([1, 2, 3]) }]);
    const buf = Buffer.concat([Buffer.from('xxxx'), Buffer.from(bytes)]).subarray(4); // non-zero byteOffset
    const t = readSafetensors(buf).tensors.get('a')!;
    expect(Array.from(t.data as Float32Array)).toEqual([1, 2, 3]);
  });
});
