// Child process for crash-save.test.ts: saves two alternating checkpoints to one path forever
// (until killed), each write atomic. Prints "ready" after the first complete save.
import { encodeCheckpoint } from '../../src/checkpoint/checkpoint.ts';
import { writeFileAtomic } from '../../src/checkpoint/node.ts';
import { paramLayout } from '../../src/model/params.ts';

const [path] = process.argv.slice(2);
const config = { vocabSize: 50, blockSize: 64, nLayer: 4, nHead: 4, nEmbd: 256 };
const layout = paramLayout(config);
const versions = [1, 2].map((k) => encodeCheckpoint({
  config, tokenizer: { type: 'char', version: 1, vocab: Array.from({ length: 49 }, (_, i) => 65 + i), unk: true },
  params: new Float32Array(layout.total).fill(k),
}));
let i = 0;
for (;;) {
  writeFileAtomic(path, versions[i++ % 2]);
  if (i === 1) process.stdout.write('ready\n');
}
