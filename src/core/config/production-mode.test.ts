import { describe, expect, it } from "vitest";
import {
  forbidLocalDefault,
  forbidSet,
  productionProblems,
  requireHttps,
  requireSet,
  requireTrue,
} from "./production-mode.ts";

const rules = [
  requireHttps("URL"),
  forbidLocalDefault("TOKEN", "local-token"),
  requireSet("SECRET", "it authenticates us"),
  requireTrue("SSL", "TLS to the brokers"),
  forbidSet("RELAY", "local only"),
];

describe("productionProblems", () => {
  it("checks nothing outside production", () => {
    expect(productionProblems({ URL: "http://x", TOKEN: "local-token" }, rules)).toEqual([]);
    expect(productionProblems({ DRIFTLINE_ENV: "local", URL: "http://x" }, rules)).toEqual([]);
  });

  it("names every insecure setting in production, and never its value", () => {
    const problems = productionProblems(
      { DRIFTLINE_ENV: "Production", URL: "http://redis.example", RELAY: "ws://127.0.0.1:5488" },
      rules,
    );
    expect(problems.map((p) => p.key)).toEqual(["URL", "TOKEN", "SECRET", "SSL", "RELAY"]);
    expect(problems.every((p) => p.message.endsWith("(DRIFTLINE_ENV=production)"))).toBe(true);
    expect(JSON.stringify(problems)).not.toContain("redis.example");
  });

  it("accepts a secure production setup", () => {
    expect(
      productionProblems(
        { DRIFTLINE_ENV: "production", URL: "https://r", TOKEN: "mine", SECRET: "s", SSL: "true" },
        rules,
      ),
    ).toEqual([]);
  });

  it("refuses an unknown mode", () => {
    expect(productionProblems({ DRIFTLINE_ENV: "prod" }, rules)).toEqual([
      { key: "DRIFTLINE_ENV", message: "must be production or local (the default)" },
    ]);
  });
});
