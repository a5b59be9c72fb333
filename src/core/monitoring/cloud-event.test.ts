import { CloudEvent as SdkCloudEvent } from "cloudevents";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { ALERT_TYPES, buildCloudEvent, cloudEventSchema } from "./cloud-event.ts";

const base = {
  id: "a-1",
  source: "/driftline/stream-processor",
  type: ALERT_TYPES.driftChanged,
  timeMs: Date.UTC(2026, 10, 22, 12),
  subject: "tenants/t/models/m/versions/1/features/x",
  data: { to: "significant" },
};

describe("buildCloudEvent", () => {
  it("builds a structured-mode CloudEvent 1.0 the official SDK validates", () => {
    const event = buildCloudEvent(base);
    expect(event).toEqual({
      specversion: "1.0",
      id: "a-1",
      source: "/driftline/stream-processor",
      type: "dev.driftline.drift.changed",
      time: "2026-11-22T12:00:00.000Z",
      subject: "tenants/t/models/m/versions/1/features/x",
      datacontenttype: "application/json",
      data: { to: "significant" },
    });
    const sdk = new SdkCloudEvent(JSON.parse(JSON.stringify(event)));
    expect(sdk.validate()).toBe(true);
    expect(sdk.toJSON()).toMatchObject({ id: "a-1", type: event.type, data: event.data });
  });

  it("refuses attributes the specification forbids", () => {
    expect(() => buildCloudEvent({ ...base, id: "" })).toThrow(ValidationError);
    expect(() => buildCloudEvent({ ...base, source: "has space" })).toThrow(/source/);
    expect(() => buildCloudEvent({ ...base, timeMs: Number.NaN })).toThrow();
  });

  it("the schema accepts lower-case extensions and rejects other attribute names", () => {
    const ok = { specversion: "1.0", id: "1", source: "urn:x", type: "t", partitionkey: "k" };
    expect(cloudEventSchema.safeParse(ok).success).toBe(true);
    expect(cloudEventSchema.safeParse({ ...ok, Bad_Name: 1 }).success).toBe(false);
    expect(cloudEventSchema.safeParse({ ...ok, specversion: "0.3" }).success).toBe(false);
    expect(cloudEventSchema.safeParse({ ...ok, source: "1nvalid-scheme:x" }).success).toBe(false);
  });
});
