/** The models shipped inside the Worker bundle: the default `conversion` model serves out of the box. */

import { parseModelManifest } from "#core/model-manifest";
// wrangler's Data rule turns the .onnx import into an ArrayBuffer; the JSON is bundled as an object.
import conversionManifest from "../../models/conversion/1/manifest.json";
import conversionModel from "../../models/conversion/1/model.onnx";
import type { BundledModel } from "./model-registry";

/** Parsed once per isolate, so a broken bundled manifest fails at the first request that needs it. */
let bundled: BundledModel[] | undefined;

export function bundledModels(): readonly BundledModel[] {
  bundled ??= [
    {
      name: "conversion",
      version: "1",
      manifest: { ...parseModelManifest(conversionManifest), name: "conversion", version: "1" },
      bytes: conversionModel,
    },
  ];
  return bundled;
}
