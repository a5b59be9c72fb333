// Modules that wrangler's rules turn into runtime values (see wrangler.toml [[rules]]): WASM,
// ONNX bytes and the console's built script and stylesheet (text).
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
declare module "*.onnx" {
  const bytes: ArrayBuffer;
  export default bytes;
}
declare module "*.bundle.js" {
  const text: string;
  export default text;
}
declare module "*.bundle.css" {
  const text: string;
  export default text;
}
