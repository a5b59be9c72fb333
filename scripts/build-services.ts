/**
 * `npm run build`: bundles the Node services (the stream processor, the delivery service and the
 * Kafka REST gateway) with esbuild into plain JavaScript under dist/, so production starts them
 * with `node` and the `dependencies` alone (no tsx, no TypeScript). The core is bundled in; every
 * package stays external and must be listed in `dependencies` (checked here and in the test).
 */
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { builtinModules } from "node:module";
import { relative, resolve } from "node:path";
import { build, type Metafile } from "esbuild";
import { runIfMain } from "./keys-common";

const ROOT = resolve(import.meta.dirname, "..");
export const DIST = resolve(ROOT, "dist");

/**
 * Entry → output, relative to the root. The processor's outputs sit two folders below the root,
 * like their sources, so paths it resolves from its own file (the bundled models) stay right.
 */
export const SERVICE_ENTRIES = {
  "stream-processor/main": "stream-processor/main.ts",
  "stream-processor/delivery-main": "stream-processor/delivery-main.ts",
  "kafka-rest-gateway/main": "scripts/kafka-rest-gateway/main.ts",
} as const;

export interface BuiltServices {
  outputs: { file: string; bytes: number }[];
  /** Packages the bundles import at run time (bare names, without subpaths). */
  externals: string[];
}

/** The package a bare import names: `@scope/name` or `name` (subpaths dropped). */
export function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** The packages a metafile's outputs import that are not Node built-ins. */
export function externalPackages(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) {
      if (!imp.external || BUILTINS.has(imp.path) || imp.path.startsWith("node:")) continue;
      names.add(packageOf(imp.path));
    }
  }
  return [...names].sort();
}

export async function buildServices(): Promise<BuiltServices> {
  await rm(DIST, { recursive: true, force: true });
  const result = await build({
    entryPoints: Object.entries(SERVICE_ENTRIES).map(([out, src]) => ({
      out,
      in: resolve(ROOT, src),
    })),
    outdir: DIST,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    // Packages come from node_modules at run time (the production install), never inlined.
    packages: "external",
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
    metafile: true,
  });
  const externals = externalPackages(result.metafile);
  const pkg = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const missing = externals.filter((name) => pkg.dependencies?.[name] === undefined);
  if (missing.length > 0) {
    throw new Error(
      `The services import ${missing.join(", ")}, which package.json lists outside "dependencies": a production install (npm ci --omit=dev) would not have ${missing.length === 1 ? "it" : "them"}. Move ${missing.length === 1 ? "it" : "them"} to "dependencies".`,
    );
  }
  const outputs = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith(".js"))
    .map(([file, o]) => ({ file: relative(ROOT, resolve(ROOT, file)), bytes: o.bytes }));
  return { outputs, externals };
}

async function main(): Promise<void> {
  const built = await buildServices();
  for (const o of built.outputs) {
    console.log(`${o.file.padEnd(42)} ${(o.bytes / 1024).toFixed(0).padStart(6)} KiB`);
  }
  console.log(`run-time packages (all in "dependencies"): ${built.externals.join(", ")}`);
}

runIfMain(import.meta.url, main);
