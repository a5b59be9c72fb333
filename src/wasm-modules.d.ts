// Modules that wrangler's rules turn into runtime values (see wrangler.toml [[rules]]): WASM,
// ONNX bytes and the console's built script and stylesheet (text).
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
// Swagger UI's script and stylesheet, bundled as text for /docs (src/docs/docs-routes.ts).
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const text: string;
  export default text;
}
declare module "swagger-ui-dist/swagger-ui.css" {
  const text: string;
  export default text;
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
