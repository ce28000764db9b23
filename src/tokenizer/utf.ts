/**
 * Lossless string <-> bytes for byte-level BPE, and fast code-unit -> string assembly.
 *
 * JavaScript strings are sequences of UTF-16 code units and may hold lone surrogates, which UTF-8
 * cannot represent (TextEncoder turns them into U+FFFD, so the round trip would lose them). We use
 * WTF-8 instead: plain UTF-8 for every well-formed string, and a lone surrogate as the 3-byte
 * sequence UTF-8 would give its code point (ED A0..BF xx). `wtf8Decode(wtf8Encode(s)) === s` for
 * every string s. Decoding arbitrary bytes (e.g. sampled token ids) never throws: each maximal
 * invalid subsequence becomes one U+FFFD, as the WHATWG decoder does.
 */

/** Encode a string to WTF-8 bytes (UTF-8 for well-formed strings). */
export function wtf8Encode(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 3);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
      continue;
    }
    if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
        i++;
        out[n++] = 0xf0 | (c >> 18);
        out[n++] = 0x80 | ((c >> 12) & 0x3f);
        out[n++] = 0x80 | ((c >> 6) & 0x3f);
        out[n++] = 0x80 | (c & 0x3f);
        continue;
      }
    }
    // BMP character, or a lone surrogate (encoded like its code point: the WTF-8 part)
    out[n++] = 0xe0 | (c >> 12);
    out[n++] = 0x80 | ((c >> 6) & 0x3f);
    out[n++] = 0x80 | (c & 0x3f);
  }
  return out.slice(0, n);
}

const CHUNK = 8192;

/** Join UTF-16 code units units[0..n) into a string without per-character concatenation. */
export function codeUnitsToString(units: Uint16Array, n: number): string {
  if (n <= CHUNK) return String.fromCharCode.apply(null, units.subarray(0, n) as unknown as number[]);
  const parts: string[] = [];
  for (let i = 0; i < n; i += CHUNK) {
    parts.push(String.fromCharCode.apply(null, units.subarray(i, Math.min(n, i + CHUNK)) as unknown as number[]));
  }
  return parts.join('');
}

/**
 * Decode WTF-8 bytes[start, end) to a string. Surrogate code points encoded on their own decode to
 * lone surrogates; any other invalid sequence decodes to U+FFFD (one per maximal subpart).
 */
export function wtf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  // every byte yields at most one code unit, except 4-byte sequences (4 bytes -> 2 units)
  const units = new Uint16Array(Math.max(0, end - start));
  let n = 0;
  let i = start;
  while (i < end) {
    const b0 = bytes[i];
    if (b0 < 0x80) {
      units[n++] = b0;
      i++;
      continue;
    }
    let need: number;
    let cp: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      need = 1;
      cp = b0 & 0x1f;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      cp = b0 & 0x0f;
      if (b0 === 0xe0) lower = 0xa0; // no overlong forms; ED A0..BF (surrogates) is allowed: WTF-8
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      cp = b0 & 0x07;
      if (b0 === 0xf0) lower = 0x90;
      if (b0 === 0xf4) upper = 0x8f;
    } else {
      units[n++] = 0xfffd;
      i++;
      continue;
    }
    let j = i + 1;
    let got = 0;
    while (got < need && j < end) {
      const b = bytes[j];
      if (b < lower || b > upper) break;
      lower = 0x80;
      upper = 0xbf;
      cp = (cp << 6) | (b & 0x3f);
      j++;
      got++;
    }
    if (got < need) {
      units[n++] = 0xfffd;
      i = j;
      continue;
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units[n++] = 0xd800 + (cp >> 10);
      units[n++] = 0xdc00 + (cp & 0x3ff);
    } else {
      units[n++] = cp;
    }
    i = j;
  }
  return codeUnitsToString(units, n);
}
