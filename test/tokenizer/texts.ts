/** A varied text set for tokenizer round trips: scripts, emoji, whitespace runs, code, lone surrogates. */
export const VARIED_TEXTS: Record<string, string> = {
  empty: '',
  ascii: 'Hello, world! The quick brown fox jumps over the lazy dog.',
  latin: 'naïve café — “curly quotes” ‘single’ … ﬁ ligature, Größe, Ærøskøbing, ½ °C',
  scripts: 'Ελληνικά русский язык 中文字符 日本語のテキスト 한국어 עברית العربية हिन्दी ภาษาไทย',
  combining: 'e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353\u0354 ḁ̯',
  emoji: '👍🏽 👨‍👩‍👧‍👦 🇺🇸 ❤️ 🤖🦄 😀😃😄 text🙂text',
  whitespace: '   a  \t\t b\n\n\n   \r\n\r\n  \u00a0\u2003\u3000 end   \n',
  crlf: 'line one\r\nline two\r\n\r\nline four\rold mac\n',
  code: 'function f(x) {\n  return x ** 2 + 1; // ok\n}\n\tif (a && b) { s = "don\'t"; }\n#include <stdio.h>\nint main(){printf("%d\\n",42);}',
  contractions: "I'm sure you're right; they'll see it's what we've said, I'd say. DON'T 'quote' me",
  numbers: '1234567890 3.14159 -1e-10 0xFF 1,000,000 ٣٤٥ ⅧⅨ',
  controls: '\u0000\u0001\u0002\u0007\u001b[0m\u007f\u0085\u200b\u200d\ufeff\ufffd\uffff',
  loneHigh: 'a\ud800b',
  loneLow: '\udc00start',
  reversedPair: 'x\udc00\ud800y',
  highAtEnd: 'end\udbff',
  maxCodePoint: '\udbff\udfff',
  longLetters: 'a'.repeat(1000),
  longSpaces: ' '.repeat(600) + 'x' + '\n'.repeat(300),
  longPunct: '='.repeat(2000),
  longEmoji: '😀'.repeat(300),
  pairAtCut: 'x'.repeat(255) + '😀' + 'y'.repeat(300),
  mixed: 'The year 1790: "Fellow-Citizens" — 👋 \t\n'.repeat(20),
};

/** All varied texts joined, for training on them. */
export const VARIED_CORPUS = Object.values(VARIED_TEXTS).join('\n');

/** n random strings of random UTF-16 code units (lone surrogates included), seeded. */
export function randomStrings(n: number, seed: number, maxLen = 40): string[] {
  let a = seed >>> 0;
  const r = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pools = [
    () => 0x20 + Math.floor(r() * 95), // printable ASCII
    () => Math.floor(r() * 0x80), // any ASCII
    () => Math.floor(r() * 0x10000), // any code unit, surrogates included
    () => 0xd800 + Math.floor(r() * 0x800), // surrogates only
    () => [0x20, 0x0a, 0x0d, 0x09][Math.floor(r() * 4)], // whitespace
  ];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = Math.floor(r() * maxLen);
    const units: number[] = [];
    for (let j = 0; j < len; j++) units.push(pools[Math.floor(r() * pools.length)]());
    out.push(String.fromCharCode(...units));
  }
  return out;
}
