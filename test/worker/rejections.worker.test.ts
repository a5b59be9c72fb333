/**
 * Rejected events inside workerd with real Upstash Redis: the Worker counts what it rejects per
 * tenant, source and minute, and GET /v1/metrics/rejected answers only the caller's counts.
 */
import { describe, expect, it } from "vitest";
import { ingestTestApp, nowSeconds } from "./ingest-support";
import { createKey, type ErrorJson, uniqueTenant } from "./support";

const good = (id: string) => ({
  event_name: "Lead",
  event_time: nowSeconds() - 30,
  event_id: id,
  action_source: "system_generated",
  user_data: { em: ["lead@example.org"], country: "DE" },
});

describe("rejected events", () => {
  const app = ingestTestApp();

  it("counts each tenant's rejected events and answers them only to that tenant", async () => {
    const acme = uniqueTenant("rej-acme");
    const globex = uniqueTenant("rej-globex");
    const ingest = await createKey(acme, ["ingest"]);
    const read = await createKey(acme, ["read"]);
    const readGlobex = await createKey(globex, ["read"]);
    const { event_name: _name, ...nameless } = good("bad-1");
    const stale = { ...good("bad-2"), event_time: nowSeconds() - 8 * 86_400 };
    const res = await app.fetch("/v1/capi/42/events", {
      key: ingest,
      json: { data: [good("ok-1"), nameless, stale] },
    });
    expect(res.status).toBe(202);
    expect(((await res.json()) as { rejected: number }).rejected).toBe(2);
    const web = await app.fetch("/v1/events", {
      key: ingest,
      json: { events: [{ event_name: "PageView", event_time: "yesterday" }] },
    });
    expect(((await web.json()) as { rejected: number }).rejected).toBe(1);

    const get = async (key: string, query = "") => {
      const r = await app.fetch(`/v1/metrics/rejected${query}`, { key, method: "GET" });
      return { status: r.status, body: (await r.json()) as ErrorJson & Record<string, unknown> };
    };
    const mine = await get(read);
    expect(mine.status).toBe(200);
    expect(mine.body.total).toBe(3);
    const bySource = Object.fromEntries(
      (mine.body.data as { source: string; rejected: number }[]).map((d) => [d.source, d.rejected]),
    );
    expect(bySource).toEqual({ capi: 2, web: 1 });
    const theirs = await get(readGlobex);
    expect(theirs.body).toEqual({ data: [], total: 0 });

    const tooLong = await get(read, `?from=${Date.now() - 25 * 3_600_000}&to=${Date.now()}`);
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.message).toContain("24 h");
  });
});
