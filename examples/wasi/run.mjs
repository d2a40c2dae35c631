// Runs a wasm32-wasip1 program in Node's WASI host (preview1) and exits with
// the program's exit code. Usage: node --no-warnings run.mjs <program.wasm>
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { WASI } from 'node:wasi';

const path = process.argv[2];
if (!path) {
  console.error('usage: node --no-warnings run.mjs <program.wasm>');
  process.exit(2);
}
// No environment and no preopened directories: the program needs neither.
const wasi = new WASI({ version: 'preview1', args: [path], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(path));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
