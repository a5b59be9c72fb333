import { describe, expect, it } from "vitest";
import { labelSignalOf } from "./label-signals.ts";

const event = {
  tenant: "t",
  eventName: "Purchase",
  eventId: "e1",
  eventTimeMs: 1000,
};
const all = new Set<string>();

describe("labelSignalOf", () => {
  it("a conversion naming a prediction labels it", () => {
    expect(labelSignalOf({ ...event, predictionId: "p1" }, all)).toEqual({
      ...event,
      predictionId: "p1",
      clickIds: [],
      conversion: true,
    });
  });

  it("collects distinct click ids in a fixed order", () => {
    const s = labelSignalOf({ ...event, clickIds: { gclid: "g", fbclid: "f", wbraid: "f" } }, all);
    expect(s?.clickIds).toEqual(["f", "g"]);
  });

  it("events that are not conversions only map click ids to a prediction", () => {
    const only = new Set(["Purchase"]);
    const view = { ...event, eventName: "PageView" };
    expect(labelSignalOf({ ...view, clickIds: { fbclid: "f" } }, only)).toBeUndefined();
    expect(
      labelSignalOf({ ...view, predictionId: "p", clickIds: { fbclid: "f" } }, only),
    ).toMatchObject({
      conversion: false,
      predictionId: "p",
      clickIds: ["f"],
    });
    expect(labelSignalOf(event, all)).toBeUndefined();
  });

  it("ignores ids too long to store", () => {
    expect(labelSignalOf({ ...event, predictionId: "p".repeat(129) }, all)).toBeUndefined();
  });
});
