/** Miniflare module options for a `wrangler deploy --dry-run --outdir` bundle: its entry and the modules beside it. */
import { readdirSync } from "node:fs";
import { join } from "node:path";

export type BundleModuleType = "ESModule" | "CompiledWasm" | "Data" | "Text";

export function modulesFromBundle(dir: string): {
  modulesRoot: string;
  modules: { type: BundleModuleType; path: string }[];
} {
  const files = readdirSync(dir);
  // wrangler names the modules its [[rules]] bundle `<sha1>-<file>`; the entry keeps its name.
  const ruleModule = /^[0-9a-f]{40}-/;
  const entry = files.find((f) => f.endsWith(".js") && !ruleModule.test(f));
  if (!entry) throw new Error(`no .js entry in ${dir}`);
  const typeOf = (file: string): BundleModuleType | undefined =>
    file.endsWith(".wasm")
      ? "CompiledWasm"
      : file.endsWith(".onnx")
        ? "Data"
        : ruleModule.test(file) && /\.(js|css)$/.test(file)
          ? "Text"
          : undefined;
  return {
    modulesRoot: dir,
    modules: [
      { type: "ESModule", path: join(dir, entry) },
      ...files.flatMap((f) => {
        const type = typeOf(f);
        return type ? [{ type, path: join(dir, f) }] : [];
      }),
    ],
  };
}
