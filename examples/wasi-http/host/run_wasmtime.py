"""Runs the wasm32-wasip2 command component in Wasmtime's own WASI 0.2 host
(the `wasmtime` package from pip, pinned in requirements.txt: wasi:cli,
wasi:clocks, wasi:io and wasi:http/outgoing-handler as Wasmtime implements
them). The counterpart of run.mjs.

Usage: python3 run_wasmtime.py <component.wasm> [argument...]. Exits with
the component's exit code (1 if `run` fails)."""

import sys

import wasmtime
import wasmtime.component as component


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: python3 run_wasmtime.py <component.wasm> [argument...]", file=sys.stderr)
        return 2
    path, args = sys.argv[1], sys.argv[2:]
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    # The component sees its own name and the arguments, and no environment.
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["freshen-wasi-http-example", *args]
    wasi.inherit_stdin()
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    store.set_wasi_http()
    linker = component.Linker(engine)
    linker.add_wasip2()
    linker.add_wasi_http()
    instance = linker.instantiate(store, component.Component.from_file(engine, path))
    for version in ("0.2.4", "0.2.0"):
        run_interface = instance.get_export_index(store, f"wasi:cli/run@{version}")
        if run_interface is not None:
            break
    else:
        print("the component exports no wasi:cli/run", file=sys.stderr)
        return 1
    run = instance.get_func(store, instance.get_export_index(store, "run", run_interface))
    try:
        result = run(store)
        run.post_return(store)
    except wasmtime.ExitTrap as exit_trap:
        return exit_trap.code
    except wasmtime.WasmtimeError as error:
        print(f"the component's run failed: {error}", file=sys.stderr)
        return 1
    # wasi:cli/run returns result<_, _>: an error is exit code 1.
    return 0 if result is None or getattr(result, "tag", "ok") == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
