/** Destinations: where a tenant's accepted events are forwarded (Meta's Conversions API first). */
import { z } from "zod";

/**
 * Kinds of destination. Each kind has its own settings schema, its own secret (sealed at rest)
 * and its own sender in the delivery service; `google-ads` (enhanced conversions) and `tiktok`
 * (Events API) fit the same shape: an account id, a secret token, a test switch.
 */
export const DESTINATION_KINDS = ["meta"] as const;
export type DestinationKind = (typeof DESTINATION_KINDS)[number];

/** Meta pixel (dataset) ids are decimal numbers, 15-16 digits today. */
const PIXEL_ID = /^[0-9]{1,32}$/;

export const metaDestinationInputSchema = z.strictObject({
  kind: z.literal("meta"),
  /** A name for the console and listings. */
  name: z.string().trim().min(1).max(100).optional(),
  pixelId: z.string().regex(PIXEL_ID, "must be the pixel (dataset) id: digits only"),
  /** A Conversions API access token (Events Manager → Settings → Generate access token). */
  accessToken: z
    .string()
    .min(20, "must be a Conversions API access token (Events Manager → Settings)")
    .max(1024)
    .regex(/^[A-Za-z0-9_-]+$/, "must be a Conversions API access token (letters and digits)"),
  /** Meta's test_event_code: events show under Test events in Events Manager, not in reporting. */
  testEventCode: z
    .string()
    .regex(/^[A-Za-z0-9]{1,64}$/, "must be the test code Events Manager shows (e.g. TEST12345)")
    .optional(),
});

export const destinationInputSchema = z.discriminatedUnion("kind", [metaDestinationInputSchema]);
export type DestinationInput = z.infer<typeof destinationInputSchema>;

/** What a destination keeps in the clear (its secret is stored apart, sealed). */
export const metaDestinationSettingsSchema = z.object({
  pixelId: z.string().regex(PIXEL_ID),
  testEventCode: z.string().optional(),
});
export type MetaDestinationSettings = z.infer<typeof metaDestinationSettingsSchema>;

/** A stored destination as the API lists it: never its secret. */
export interface DestinationView {
  id: string;
  kind: DestinationKind;
  name: string | null;
  settings: MetaDestinationSettings;
  /** The last four characters of the token, to tell tokens apart. */
  tokenHint: string;
  createdAt: string;
}

/** Splits an accepted input into its clear settings and its secret. */
export function splitDestinationInput(input: DestinationInput): {
  settings: MetaDestinationSettings;
  secret: string;
  tokenHint: string;
} {
  return {
    settings: {
      pixelId: input.pixelId,
      ...(input.testEventCode === undefined ? {} : { testEventCode: input.testEventCode }),
    },
    secret: input.accessToken,
    tokenHint: input.accessToken.slice(-4),
  };
}

/** Most live destinations per tenant. */
export const MAX_DESTINATIONS_PER_TENANT = 10;

/**
 * Redis key holding `1` while a tenant has a live destination: the edge keeps the fields only a
 * destination needs (client_ip_address, client_user_agent, fbc, fbp) in that tenant's messages.
 */
export function tenantForwardingRedisKey(tenant: string): string {
  return `tenant:${tenant}:forwarding`;
}
