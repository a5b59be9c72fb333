/**
 * Bundles the browser SDK (src/sdk/driftline.ts) with esbuild into one minified ES module,
 * src/sdk/dist/driftline.bundle.js: the file of the `@driftline/browser` package and what the
 * Worker serves at /sdk/v1/driftline.js (imported as a text module).
 */
import { mkdir, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const ROOT = resolve(import.meta.dirname, "..");
export const SDK_BUNDLE = resolve(ROOT, "src/sdk/dist/driftline.bundle.js");
/** The SDK's budget on the wire: gzipped bytes. */
export const SDK_GZIP_BUDGET_BYTES = 4096;

export async function buildSdk(): Promise<{ bytes: number; gzipBytes: number }> {
  await mkdir(resolve(SDK_BUNDLE, ".."), { recursive: true });
  await build({
    entryPoints: [resolve(ROOT, "src/sdk/driftline.ts")],
    outfile: SDK_BUNDLE,
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2020",
    platform: "browser",
    legalComments: "none",
    logLevel: "warning",
  });
  const code = await readFile(SDK_BUNDLE);
  const gzipBytes = gzipSync(code, { level: 9 }).length;
  if (gzipBytes > SDK_GZIP_BUDGET_BYTES) {
    throw new Error(
      `The browser SDK is ${gzipBytes} B gzipped, over its ${SDK_GZIP_BUDGET_BYTES} B budget.`,
    );
  }
  return { bytes: code.length, gzipBytes };
}
