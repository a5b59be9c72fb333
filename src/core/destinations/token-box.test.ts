import { describe, expect, it } from "vitest";
import { ConfigError } from "../errors.ts";
import {
  importDestinationKey,
  LOCAL_DESTINATION_ENCRYPTION_KEY,
  openDestinationToken,
  openParkedEvents,
  sealDestinationToken,
  sealParkedEvents,
} from "./token-box.ts";

const owner = { tenant: "acme", destinationId: "d-1" };

describe("destination token sealing", () => {
  it("opens what it sealed, never shows the token, and uses a fresh IV each time", async () => {
    const key = await importDestinationKey(LOCAL_DESTINATION_ENCRYPTION_KEY);
    const token = "EAAB1234567890abcdefghijklmnop";
    const a = await sealDestinationToken(key, token, owner);
    const b = await sealDestinationToken(key, token, owner);
    expect(a).toMatch(/^v1\.[A-Za-z0-9+/=]+\.[A-Za-z0-9+/=]+$/);
    expect(a).not.toContain(token);
    expect(a).not.toBe(b);
    expect(await openDestinationToken(key, a, owner)).toEqual({ ok: true, token });
  });

  it("refuses another owner's row, another key and altered text", async () => {
    const key = await importDestinationKey(LOCAL_DESTINATION_ENCRYPTION_KEY);
    const other = await importDestinationKey(btoa(String.fromCharCode(...new Uint8Array(32))));
    const sealed = await sealDestinationToken(key, "EAAB1234567890abcdefghijklmnop", owner);
    expect((await openDestinationToken(key, sealed, { ...owner, tenant: "evil" })).ok).toBe(false);
    expect((await openDestinationToken(other, sealed, owner)).ok).toBe(false);
    const altered = `${sealed.slice(0, -4)}AAA=`;
    expect((await openDestinationToken(key, altered, owner)).ok).toBe(false);
    expect((await openDestinationToken(key, "plain-token", owner)).ok).toBe(false);
  });

  it("seals parked events for their destination only, never as a token", async () => {
    const key = await importDestinationKey(LOCAL_DESTINATION_ENCRYPTION_KEY);
    const payload = '[{"v":"eyJ0ZW5hbnQiOiJhY21lIn0="}]';
    const sealed = await sealParkedEvents(key, payload, owner);
    expect(sealed).not.toContain(payload);
    expect(await openParkedEvents(key, sealed, owner)).toEqual({ ok: true, token: payload });
    expect((await openParkedEvents(key, sealed, { ...owner, destinationId: "d-2" })).ok).toBe(
      false,
    );
    // A parked payload copied into a token column does not open as a token, nor the reverse.
    expect((await openDestinationToken(key, sealed, owner)).ok).toBe(false);
    const token = await sealDestinationToken(key, "EAAB1234567890abcdefghijklmnop", owner);
    expect((await openParkedEvents(key, token, owner)).ok).toBe(false);
  });

  it("names the variable when the key is not 32 bytes of base64", async () => {
    await expect(importDestinationKey("short")).rejects.toThrow(ConfigError);
    await expect(importDestinationKey(btoa("x".repeat(16)))).rejects.toThrow(/32 bytes/);
  });
});
