/** The console's browser code keeps its own list of alert types (no core import): held to the core's. */
import { describe, expect, it } from "vitest";
import { ALERT_TYPES } from "#core/monitoring";
import { ALERT_TYPE_CHOICES, shortAlertType } from "./ui/alert-types";

describe("the console's alert types", () => {
  it("are the alert types of the core, in the same order", () => {
    expect([...ALERT_TYPE_CHOICES]).toEqual(Object.values(ALERT_TYPES));
  });

  it("are shown without their common prefix", () => {
    expect(shortAlertType("dev.driftline.performance.degraded")).toBe("performance.degraded");
    expect(shortAlertType("com.example.other")).toBe("com.example.other");
  });
});
