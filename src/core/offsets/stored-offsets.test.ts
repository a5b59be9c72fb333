import { describe, expect, it } from "vitest";
import { resumeDecision } from "./stored-offsets.ts";

describe("resumeDecision", () => {
  it.each([
    // Nothing stored yet: whatever Kafka fetched is processed.
    [
      { stored: null, fetched: "7" },
      { kind: "process", from: null },
    ],
    // The fetch agrees with the store.
    [
      { stored: "7", fetched: "7" },
      { kind: "process", from: "7" },
    ],
    // Kafka's group offset is behind or ahead of the store: the store wins.
    [
      { stored: "7", fetched: "3" },
      { kind: "seek", offset: "7" },
    ],
    [
      { stored: "7", fetched: "12" },
      { kind: "seek", offset: "7" },
    ],
    // Retention deleted the stored offset: resume at the log start.
    [
      { stored: "7", fetched: "12", logStart: "10" },
      { kind: "seek", offset: "10" },
    ],
    [
      { stored: "7", fetched: "10", logStart: "10" },
      { kind: "process", from: "10" },
    ],
    // Offsets beyond 2^53 compare exactly.
    [
      { stored: "9007199254740993", fetched: "9007199254740992", logStart: "9007199254740993" },
      { kind: "seek", offset: "9007199254740993" },
    ],
  ] as const)("%j → %j", (input, expected) => {
    expect(resumeDecision(input)).toEqual(expected);
  });
});
