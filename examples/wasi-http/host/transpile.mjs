// Transpiles a wasm32-wasip2 component into an ES module (its core modules
// plus JavaScript glue importing @bytecodealliance/preview2-shim), so Node
// can run it. Usage: node transpile.mjs <component.wasm> <out-dir>
// <out-dir> must lie under this directory, so the glue finds node_modules.
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { transpileBytes, writeFiles } from '@bytecodealliance/jco-transpile';

const [input, outDir] = process.argv.slice(2);
if (!input || !outDir) {
  console.error('usage: node transpile.mjs <component.wasm> <out-dir>');
  process.exit(2);
}
const { files } = await transpileBytes(await readFile(input), { name: 'component', outDir });
await writeFiles(files);
console.log(`transpiled ${input} into ${outDir} (${Object.keys(files).length} files)`);
