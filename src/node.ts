/** Node-only helpers: corpus files, the bundled corpus, atomic checkpoint files. */
export { readTextFile, loadSotuCorpus, listSotuAddresses, sotuDataDir } from './data/corpus-node.ts';
export type { SotuAddress, SotuOptions } from './data/corpus-node.ts';
export { writeFileAtomic, readCheckpointFile } from './checkpoint/node.ts';
export { importHF, exportHF, loadAnyCheckpoint, loadAnyModel } from './interop/hf-node.ts';
export { loadLabeledData } from './data/labeled-node.ts';
