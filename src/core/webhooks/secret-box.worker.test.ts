// Runs inside workerd: the Worker seals with its WebCrypto what the processor opens with Node's,
// so both must speak the same AES-256-GCM; this checks workerd's side round-trips and refuses
// tampering, and opens a value sealed on Node 22 (fixed below) with the local key.
import { describe, expect, it } from "vitest";
import {
  importWebhookEncryptionKey,
  LOCAL_WEBHOOK_ENCRYPTION_KEY,
  openWebhookSecret,
  sealWebhookSecret,
} from "./secret-box.ts";

const owner = { tenant: "acme", endpointId: "e-1" };
/** sealWebhookSecret(local key, "whsec_node22", owner) as Node 22 computed it. */
const SEALED_ON_NODE = "v1.mA21Ol1X06HCS+2E.5bvMD96WQTQ+cib35RjPMjVxzSAF88uFN32VVQ==";

describe("webhook secret sealing in workerd", () => {
  it("round-trips and refuses another owner", async () => {
    const key = await importWebhookEncryptionKey(LOCAL_WEBHOOK_ENCRYPTION_KEY);
    const sealed = await sealWebhookSecret(key, "whsec_workerd", owner);
    expect(await openWebhookSecret(key, sealed, owner)).toEqual({
      ok: true,
      secret: "whsec_workerd",
    });
    expect((await openWebhookSecret(key, sealed, { ...owner, tenant: "other" })).ok).toBe(false);
  });

  it("opens what Node sealed", async () => {
    const key = await importWebhookEncryptionKey(LOCAL_WEBHOOK_ENCRYPTION_KEY);
    expect(await openWebhookSecret(key, SEALED_ON_NODE, owner)).toEqual({
      ok: true,
      secret: "whsec_node22",
    });
  });
});
