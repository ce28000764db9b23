/** Node-only helpers: corpus files, the bundled corpus, atomic checkpoint files. */
export { readTextFile, loadSotuCorpus, listSotuAddresses, sotuDataDir } from './data/corpus-node.ts';
export type { SotuAddress, SotuOptions } from './data/corpus-node.ts';
export { writeFileAtomic, readCheckpointFile } from './checkpoint/node.ts';
