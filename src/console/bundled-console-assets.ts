/**
 * The console's built front end, bundled into the Worker as text modules (wrangler.toml [[rules]]
 * "Text" for *.bundle.js / *.bundle.css). `npm run build:console` writes them; wrangler's [build]
 * runs it before `wrangler dev` and deploys.
 */

import { consoleAssetsFrom } from "./console-assets-port";
import stylesheet from "./dist/console.bundle.css";
import script from "./dist/console.bundle.js";

export const bundledConsoleAssets = consoleAssetsFrom(script, stylesheet);
