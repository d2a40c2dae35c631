// Runs a transpiled wasm32-wasip2 command component (see transpile.mjs) in
// Node with the preview2 shim: wasi:cli (arguments, stdin, stdout),
// wasi:clocks, wasi:io and wasi:http/outgoing-handler (over node:http).
// Usage: node run.mjs <out-dir> [argument...]. Exits with the component's
// exit code (1 if `run` fails).
import { resolve } from 'node:path';
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import { _setArgs, _setEnv } from '@bytecodealliance/preview2-shim/cli';

const [outDir, ...args] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: node run.mjs <out-dir> [argument...]');
  process.exit(2);
}
// The component sees its own name and the arguments, and no environment.
_setArgs(['freshen-wasi-http-example', ...args]);
_setEnv({});
const component = await import(pathToFileURL(resolve(outDir, 'component.js')).href);
const run = component.run ?? component['wasi:cli/run@0.2.4'] ?? component['wasi:cli/run@0.2.0'];
try {
  run.run();
  process.exitCode = 0;
} catch (error) {
  console.error(`the component's run failed: ${error?.message ?? error}`);
  process.exitCode = 1;
}
