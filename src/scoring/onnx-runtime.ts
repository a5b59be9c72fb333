/**
 * onnxruntime-web inside workerd: hands ORT the WebAssembly module that workerd precompiled at
 * load time, because Workers forbid compiling Wasm from bytes at run time.
 *
 * ORT 1.30 accepts no `WebAssembly.Module` and does not forward Emscripten's `instantiateWasm`
 * hook. So ORT gets a tiny placeholder `wasmBinary`, and `WebAssembly.instantiate` is wrapped
 * once: when it is called with exactly those placeholder bytes it instantiates the precompiled
 * module instead. Every other call passes through untouched.
 */

// wrangler's CompiledWasm rule turns this import into a precompiled WebAssembly.Module.
import ortWasmModule from "onnxruntime-web/ort-wasm-simd-threaded.wasm";
import * as ort from "onnxruntime-web/wasm";

/** A valid, empty Wasm module (magic + version) followed by a custom section marking it as ours. */
const PLACEHOLDER = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x09, 0x64, 0x72, 0x69, 0x66, 0x74,
  0x6c, 0x69, 0x6e, 0x65,
]);

function isPlaceholder(source: unknown): boolean {
  if (!ArrayBuffer.isView(source) && !(source instanceof ArrayBuffer)) return false;
  const bytes = ArrayBuffer.isView(source)
    ? new Uint8Array(source.buffer, source.byteOffset, source.byteLength)
    : new Uint8Array(source);
  if (bytes.byteLength !== PLACEHOLDER.byteLength) return false;
  return bytes.every((b, i) => b === PLACEHOLDER[i]);
}

let initialised: Promise<typeof ort> | undefined;

/** Configures ORT for workerd once per isolate and returns the module. */
export function onnxRuntime(): Promise<typeof ort> {
  initialised ??= (async () => {
    const original = WebAssembly.instantiate.bind(WebAssembly);
    const wrapped = ((source: unknown, imports?: WebAssembly.Imports) => {
      if (isPlaceholder(source)) {
        return original(ortWasmModule, imports).then((instance) => ({
          instance,
          module: ortWasmModule,
        }));
      }
      return (original as (s: unknown, i?: WebAssembly.Imports) => Promise<unknown>)(
        source,
        imports,
      );
    }) as typeof WebAssembly.instantiate;
    WebAssembly.instantiate = wrapped;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.wasm.wasmBinary = PLACEHOLDER;
    ort.env.logLevel = "error";
    return ort;
  })();
  return initialised;
}

export type OrtModule = typeof ort;
