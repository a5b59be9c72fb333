/** `GET /sdk/v1/driftline.js`: the browser SDK as one ES module, for pages to import directly. */
import { Hono } from "hono";
import type { AppEnv } from "../app-env";
import sdkScript from "../sdk/dist/driftline.bundle.js";

/** Major version in the path: `v1` keeps its API; fixes within it reach pages within the hour. */
export const SDK_PATH = "/sdk/v1/driftline.js";

export const sdkRoutes = new Hono<AppEnv>().get(SDK_PATH, (c) =>
  c.body(sdkScript, 200, {
    "Content-Type": "text/javascript; charset=utf-8",
    "Cache-Control": "public, max-age=3600",
    // Module scripts are fetched with CORS: any site may import the SDK.
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "X-Content-Type-Options": "nosniff",
  }),
);
