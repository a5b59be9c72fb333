import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const pkg = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")) as {
  name: string;
  imports: Record<string, string>;
  exports: Record<string, string>;
};
// Node 22 from the project's own `node` package: plain Node, no tsx or bundler loader.
const NODE = resolve(ROOT, "node_modules/.bin/node");

function exportedNames(specifier: string): string[] {
  const script = `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m)));`;
  const out = execFileSync(NODE, ["--no-warnings", "--input-type=module", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return JSON.parse(out) as string[];
}

describe("the core's entry points", () => {
  it.each(Object.keys(pkg.exports))("public %s imports on plain Node 22", (subpath) => {
    expect(exportedNames(`${pkg.name}${subpath.slice(1)}`).length).toBeGreaterThan(0);
  });

  it.each(Object.keys(pkg.imports))("%s imports on plain Node 22", (entry) => {
    expect(exportedNames(entry).length).toBeGreaterThan(0);
  });

  it("#core/explain exports the explainers", () => {
    expect(exportedNames("#core/explain")).toEqual(
      expect.arrayContaining(["createModelExplainer", "createTreeExplainer", "topReasons"]),
    );
  });

  it("#core/destinations exports the destination settings, token sealing and Meta's answer rules", () => {
    expect(exportedNames("#core/destinations")).toEqual(
      expect.arrayContaining([
        "destinationInputSchema",
        "sealDestinationToken",
        "classifyMetaResponse",
      ]),
    );
  });

  it("#core/audit exports the actions and the append statement", () => {
    expect(exportedNames("#core/audit")).toEqual(
      expect.arrayContaining(["AUDIT_ACTIONS", "auditInsertStatement", "auditState"]),
    );
  });

  it("driftline/stats exports the drift tests", () => {
    expect(exportedNames("driftline/stats")).toEqual(
      expect.arrayContaining(["computePsi", "ksTwoSample", "jensenShannonDistance"]),
    );
  });

  it("driftline/anomaly exports the detector contract", () => {
    expect(exportedNames("driftline/anomaly")).toEqual(
      expect.arrayContaining(["createDetector", "DEFAULT_DETECTOR_OPTIONS", "computeHealthScore"]),
    );
  });
});
