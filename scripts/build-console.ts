/**
 * `npm run build:console`: bundles the console's front end (src/console/ui, uPlot) with esbuild
 * into src/console/dist/console.bundle.{js,css}, which the Worker imports as text modules.
 * Wrangler's [build] runs it before `wrangler dev` and deploys; `npm test` runs it first too. It
 * builds the browser SDK the Worker serves as well (scripts/build-sdk.ts).
 */
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { build } from "esbuild";
import { buildSdk } from "./build-sdk";
import { runIfMain } from "./keys-common";

const ROOT = resolve(import.meta.dirname, "..");
const UI = resolve(ROOT, "src/console/ui");
const OUT = resolve(ROOT, "src/console/dist");

export async function buildConsole(): Promise<{ jsBytes: number; cssBytes: number }> {
  await mkdir(OUT, { recursive: true });
  const common = {
    bundle: true,
    minify: true,
    legalComments: "none" as const,
    logLevel: "warning" as const,
    metafile: true,
  };
  const js = await build({
    ...common,
    entryPoints: [resolve(UI, "main.ts")],
    outfile: resolve(OUT, "console.bundle.js"),
    format: "esm",
    target: "es2022",
    platform: "browser",
  });
  const css = await build({
    ...common,
    entryPoints: [resolve(UI, "console.css")],
    outfile: resolve(OUT, "console.bundle.css"),
  });
  const size = (meta: typeof js.metafile) =>
    Object.values(meta?.outputs ?? {}).reduce((sum, o) => sum + o.bytes, 0);
  return { jsBytes: size(js.metafile), cssBytes: size(css.metafile) };
}

runIfMain(import.meta.url, async () => {
  const { jsBytes, cssBytes } = await buildConsole();
  console.log(`console built: ${jsBytes} B script, ${cssBytes} B stylesheet`);
  const sdk = await buildSdk();
  console.log(`browser SDK built: ${sdk.bytes} B, ${sdk.gzipBytes} B gzipped`);
});
