import { describe, expect, it } from "vitest";
import type { SourceRecord } from "../kafka/event-source";
import type { LiveDestination } from "./destination-directory";
import { planDeliveries } from "./plan-deliveries";

const record = (offset: number): SourceRecord => ({
  offset: String(offset),
  key: null,
  value: null,
  headers: {},
  timestampMs: 0,
});
const at = (offset: number) => ({ topic: "capi", partition: 0, record: record(offset) });
const destination = (
  id: string,
  tenant: string,
  pixelId: string,
  testEventCode?: string,
): LiveDestination => ({
  tenant,
  id,
  kind: "meta",
  settings: { pixelId, ...(testEventCode === undefined ? {} : { testEventCode }) },
  token: "t",
});

describe("planDeliveries", () => {
  it("splits a tenant's events into requests of at most the limit, per destination", () => {
    const messages = Array.from({ length: 2_500 }, (_, i) => ({
      ...at(i),
      message: { tenant: "acme", eventJson: `{"event_id":"e-${i}"}` },
    }));
    const directory = new Map([
      ["acme", [destination("d1", "acme", "1"), destination("d2", "acme", "2")]],
    ]);
    const requests = planDeliveries(messages, directory);
    expect(requests.map((r) => [r.destination.id, r.items.length])).toEqual([
      ["d1", 1000],
      ["d2", 1000],
      ["d1", 1000],
      ["d2", 1000],
      ["d1", 500],
      ["d2", 500],
    ]);
  });

  it("sends CAPI events to the destination of their pixel, others to all; skips tenants without any", () => {
    const directory = new Map([
      ["acme", [destination("d1", "acme", "111"), destination("d2", "acme", "222", "TEST1")]],
    ]);
    const requests = planDeliveries(
      [
        {
          ...at(1),
          message: { tenant: "acme", pixelId: "222", eventJson: '{"event_id":"a"}' },
        },
        {
          ...at(2),
          message: { tenant: "acme", pixelId: "999", eventJson: '{"event_id":"b"}' },
        },
        { ...at(3), message: { tenant: "globex", eventJson: '{"event_id":"c"}' } },
        {
          ...at(4),
          message: { tenant: "acme", testEventCode: "T9", eventJson: '{"event_id":"d"}' },
        },
      ],
      directory,
    );
    const summary = requests.map((r) => ({
      to: r.destination.id,
      test: r.testEventCode,
      ids: r.items.map((i) => (JSON.parse(i.eventJson) as { event_id: string }).event_id),
    }));
    expect(summary).toEqual([
      { to: "d2", test: "TEST1", ids: ["a", "b", "d"] },
      { to: "d1", test: undefined, ids: ["b"] },
      { to: "d1", test: "T9", ids: ["d"] },
    ]);
  });
});
