"""Runs a wasm32-wasip1 program in Wasmtime (the `wasmtime` package from
pip: Wasmtime's own WASI preview1 host, through its C API) and exits with
the program's exit code. Usage: python3 run.py <program.wasm>"""

import sys

import wasmtime


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python3 run.py <program.wasm>", file=sys.stderr)
        return 2
    path = sys.argv[1]
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    # No environment and no preopened directories: the program needs neither.
    wasi = wasmtime.WasiConfig()
    wasi.argv = [path]
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    module = wasmtime.Module.from_file(engine, path)
    instance = linker.instantiate(store, module)
    start = instance.exports(store)["_start"]
    try:
        start(store)
    except wasmtime.ExitTrap as exit_trap:
        return exit_trap.code
    return 0


if __name__ == "__main__":
    sys.exit(main())
