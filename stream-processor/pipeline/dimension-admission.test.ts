import { describe, expect, it } from "vitest";
import type { WindowObservation } from "#core/windows";
import { DimensionAdmission, OVERFLOW_VALUE } from "./dimension-admission";

const event = (tenant: string, eventName: string, campaign = ""): WindowObservation => ({
  kind: "event",
  tenant,
  source: "web",
  eventName,
  campaign,
  eventTimeMs: 0,
  attributed: false,
});

describe("DimensionAdmission", () => {
  it("asks once per unknown value, and nothing for answered, free or prediction values", () => {
    const admission = new DimensionAdmission({ eventNames: 2, campaigns: 1 });
    const batch = [
      event("a", "Purchase", "spring"),
      event("a", "Purchase", ""),
      event("a", OVERFLOW_VALUE, "spring"),
      { ...event("a", "model-x"), kind: "prediction" as const },
      event("b", "Purchase"),
    ];
    const { unknown: asked, allAdmitted } = admission.unknownValues(batch);
    expect(allAdmitted).toBe(false);
    expect(asked).toEqual([
      { tenant: "a", dimension: "event_name", value: "Purchase" },
      { tenant: "a", dimension: "campaign", value: "spring" },
      { tenant: "b", dimension: "event_name", value: "Purchase" },
    ]);
    admission.remember({ asked, admitted: asked.slice(0, 2) });
    expect(admission.unknownValues(batch.slice(0, 4))).toEqual({ unknown: [], allAdmitted: true });
    // b's Purchase was refused: known, but not admitted.
    expect(admission.unknownValues(batch)).toEqual({ unknown: [], allAdmitted: false });
  });

  it("counts values past the cap under (other), keeping the others as they are", () => {
    const admission = new DimensionAdmission({ eventNames: 1, campaigns: 1 });
    const kept = event("a", "Purchase", "spring");
    const batch = [kept, event("a", "Lead", "summer"), event("a", "Lead")];
    const asked = admission.unknownValues(batch).unknown;
    const answer = {
      asked,
      admitted: asked.filter((v) => v.value === "Purchase" || v.value === "spring"),
    };
    const { observations, overflows } = admission.cap(batch, answer);
    expect(observations[0]).toBe(kept);
    expect(observations.slice(1).map((o) => [o.eventName, o.campaign])).toEqual([
      [OVERFLOW_VALUE, OVERFLOW_VALUE],
      [OVERFLOW_VALUE, ""],
    ]);
    expect(overflows).toEqual([
      { tenant: "a", dimension: "event_name", events: 2 },
      { tenant: "a", dimension: "campaign", events: 1 },
    ]);
    // Newly full pairs are reported once; refusals are remembered without asking again.
    expect(admission.remember(answer)).toEqual([
      { tenant: "a", dimension: "event_name", value: "Lead" },
      { tenant: "a", dimension: "campaign", value: "summer" },
    ]);
    expect(admission.unknownValues(batch).unknown).toEqual([]);
    expect(admission.cap(batch, undefined).overflows).toHaveLength(2);
  });
});
