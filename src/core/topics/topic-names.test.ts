import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import { allTopicNames, isValidTopicName, topicNames } from "./topic-names.ts";

describe("topicNames", () => {
  it("names the topics of the design and the model registry without a prefix", () => {
    expect(topicNames()).toEqual({
      events: "events",
      capi: "capi",
      predictions: "predictions",
      alerts: "alerts",
      retrainRequests: "retrain-requests",
      dlq: "dlq",
      models: "model-registry",
    });
  });

  it.each([
    ["staging.", "staging.events", "staging.retrain-requests"],
    ["t_1-", "t_1-events", "t_1-retrain-requests"],
  ])("prefixes every name with %s", (prefix, events, retrain) => {
    const names = topicNames(prefix);
    expect(names.events).toBe(events);
    expect(names.retrainRequests).toBe(retrain);
    expect(Object.values(names).every((n) => n.startsWith(prefix))).toBe(true);
  });

  it.each(["has space ", "slash/", "ümlaut.", "colon:"])("rejects the prefix %j", (prefix) => {
    expect(() => topicNames(prefix)).toThrow(ConfigError);
    expect(() => topicNames(prefix)).toThrow(/letters, digits/);
  });

  it("rejects a prefix that makes names longer than Kafka allows", () => {
    expect(() => topicNames("a".repeat(234))).toThrow(/at most 233 fit/);
    expect(topicNames("a".repeat(233)).retrainRequests).toHaveLength(249);
  });

  it("returns a frozen object", () => {
    expect(Object.isFrozen(topicNames("x."))).toBe(true);
  });
});

describe("allTopicNames", () => {
  it("lists the topics in a fixed order", () => {
    expect(allTopicNames("p.")).toEqual([
      "p.events",
      "p.capi",
      "p.predictions",
      "p.alerts",
      "p.retrain-requests",
      "p.dlq",
      "p.model-registry",
    ]);
  });
});

describe("isValidTopicName", () => {
  it.each([
    ["events", true],
    ["a.b_c-D9", true],
    ["", false],
    [".", false],
    ["..", false],
    ["a b", false],
    ["x".repeat(249), true],
    ["x".repeat(250), false],
  ])("%j → %s", (name, valid) => {
    expect(isValidTopicName(name)).toBe(valid);
  });
});
