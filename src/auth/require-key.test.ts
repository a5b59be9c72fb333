/** requireKey through the app with fakes: a client flooding invalid keys is refused before any lookup. */
import { describe, expect, it } from "vitest";
import { fakeServices } from "../../test/support/fake-services";
import { createApp } from "../app";
import { readBearerKey } from "./require-key";

describe("requireKey and failed authentications", () => {
  it("answers 429 to an address past its invalid-key budget without looking keys up, other addresses unaffected", async () => {
    const world = fakeServices({ authFailuresPerMinute: 3 });
    let lookups = 0;
    const findByHash = world.keys.findByHash.bind(world.keys);
    world.keys.findByHash = async (hash: string) => {
      lookups += 1;
      return findByHash(hash);
    };
    const valid = await world.keys.create("shop-1", ["score"]);
    const app = createApp(() => world.services);
    const models = (key: string, ip: string) =>
      app.request("/v1/models", {
        headers: { authorization: `Bearer ${key}`, "cf-connecting-ip": ip },
      });
    const forged = `dl_${"x".repeat(43)}`;
    for (let i = 0; i < 3; i++) expect((await models(forged, "203.0.113.9")).status).toBe(401);
    expect(lookups).toBe(3);
    const refused = await models(forged, "203.0.113.9");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(lookups).toBe(3);
    // A malformed header counts too, and other addresses are not held up.
    expect((await models("nonsense", "198.51.100.7")).status).toBe(401);
    expect((await models(valid, "198.51.100.7")).status).not.toBe(429);
  });
});

describe("readBearerKey", () => {
  it.each([
    [undefined, /Missing API key/],
    ["Bearer ", /The Authorization header is empty: it says `Bearer` with no key after it/],
    ["bearer", /The Authorization header is empty/],
    ["Basic dXNlcjpwYXNz", /is not a Bearer token/],
    ["Bearer abc", /is not a Driftline API key/],
  ])("refuses %j with a message that says what to fix", (header, message) => {
    expect(() => readBearerKey(header)).toThrow(message);
  });
});
