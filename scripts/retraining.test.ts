import { describe, expect, it } from "vitest";
import { opsCall } from "./retraining";

describe("npm run retraining: the ops API call of each command", () => {
  it("maps every command to its route, encoding the tenant, model and id", () => {
    expect(opsCall(["list", "--tenant", "acme"]).call).toEqual({
      method: "GET",
      path: "/v1/tenants/acme/retraining-requests?limit=100",
    });
    for (const command of ["cancel", "rollback", "approve"]) {
      expect(opsCall([command, "r/1", "--tenant", "acme"]).call).toEqual({
        method: "POST",
        path: `/v1/tenants/acme/retraining-requests/r%2F1/${command}`,
      });
    }
    expect(opsCall(["pause", "--tenant", "acme"]).call).toEqual({
      method: "PUT",
      path: "/v1/tenants/acme/retraining-settings/*",
      body: { paused: true },
    });
    expect(opsCall(["resume", "--tenant", "acme", "--model", "conversion"]).call).toEqual({
      method: "PUT",
      path: "/v1/tenants/acme/retraining-settings/conversion",
      body: { paused: false },
    });
    expect(opsCall(["approval", "manual", "--tenant", "acme"]).call.body).toEqual({
      approval: "manual",
    });
  });
});
