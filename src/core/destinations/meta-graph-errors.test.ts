import { describe, expect, it } from "vitest";
import { classifyMetaResponse } from "./meta-graph-errors.ts";

// Error bodies in the shape Meta's Graph API documents (developers.facebook.com/docs/graph-api/guides/error-handling).
const graphError = (error: Record<string, unknown>) => ({
  error: { type: "OAuthException", fbtrace_id: "AbC123", ...error },
});

describe("classifyMetaResponse", () => {
  it("reads Meta's success answer", () => {
    expect(
      classifyMetaResponse(200, { events_received: 3, messages: [], fbtrace_id: "A1" }),
    ).toEqual({ kind: "delivered", eventsReceived: 3, fbtraceId: "A1", messages: [] });
  });

  it.each([
    [500, null, "no body"],
    [503, graphError({ code: 2, message: "Service temporarily unavailable" }), "code 2"],
    [400, graphError({ code: 4, message: "Application request limit reached" }), "code 4"],
    [400, graphError({ code: 17, message: "User request limit reached" }), "code 17"],
    [
      400,
      graphError({ code: 613, message: "Calls to this api have exceeded the rate limit" }),
      "613",
    ],
    [400, graphError({ code: 100, is_transient: true, message: "x" }), "is_transient"],
    [429, null, "429"],
    [200, { unexpected: true }, "2xx without events_received"],
  ])("HTTP %i %j is transient (%s)", (status, body, _why) => {
    expect(classifyMetaResponse(status, body).kind).toBe("transient");
  });

  it("event errors are permanent, with Meta's reason, code and subcode", () => {
    const outcome = classifyMetaResponse(
      400,
      graphError({
        code: 100,
        error_subcode: 2804003,
        is_transient: false,
        message: "Invalid parameter",
        error_user_title: "Event Timestamp Too Old",
        error_user_msg: "The timestamp for this event is too far in the past.",
      }),
    );
    expect(outcome).toEqual({
      kind: "permanent",
      scope: "events",
      reason:
        "Event Timestamp Too Old: The timestamp for this event is too far in the past. (code 100, subcode 2804003)",
      httpStatus: 400,
      code: 100,
      subcode: 2804003,
      fbtraceId: "AbC123",
    });
  });

  it.each([190, 10, 200, 294])(
    "code %i (token or permission) is the destination's fault",
    (code) => {
      const outcome = classifyMetaResponse(400, graphError({ code, message: "denied" }));
      expect(outcome).toMatchObject({ kind: "permanent", scope: "destination", code });
    },
  );
});
