import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { manifestJsonSchema } from "#core/model-manifest";
import { formatJson } from "./train-models";

describe("models/manifest.schema.json", () => {
  it("is the manifest schema as the code states it (npm run models:train rewrites it)", () => {
    const committed = readFileSync(resolve(import.meta.dirname, "manifest.schema.json"), "utf8");
    expect(committed).toBe(`${formatJson(manifestJsonSchema())}\n`);
  });

  it("names the required fields and the retraining request an upload answers", () => {
    const schema = manifestJsonSchema() as {
      required: string[];
      properties: { training: { properties: Record<string, unknown> } };
    };
    expect(schema.required).toEqual(expect.arrayContaining(["output", "features"]));
    expect(schema.properties.training.properties).toHaveProperty("retrainingRequestId");
  });
});
