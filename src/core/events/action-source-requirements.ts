/** What Meta requires of an event beyond its schema: by action_source, and on Purchase events. */

import type { FieldIssue } from "../errors.ts";
import type { CapiServerEventInput, CustomDataInput } from "./capi-event-schema.ts";
import { fieldAt } from "./zod-issues.ts";

/** What Meta requires beyond the schema, by action_source (the CAPI parameter reference), into `issues`. */
export function actionSourceRequirements(
  e: CapiServerEventInput,
  prefix: readonly PropertyKey[],
  issues: FieldIssue[],
): void {
  switch (e.action_source) {
    case "website":
      // client_user_agent is checked after user_data normalisation, for both routes.
      if (e.event_source_url === undefined) {
        issues.push({
          field: fieldAt(prefix, "event_source_url"),
          message: "is required for website events",
        });
      }
      break;
    case "app": {
      if (e.app_data === undefined) {
        issues.push({ field: fieldAt(prefix, "app_data"), message: "is required for app events" });
        break;
      }
      if (e.app_data.advertiser_tracking_enabled === undefined) {
        issues.push({
          field: fieldAt(prefix, "app_data", "advertiser_tracking_enabled"),
          message: "is required for app events (the iOS ATT permission: 0 or 1)",
        });
      }
      const extinfo = e.app_data.extinfo;
      if (extinfo === undefined) {
        issues.push({
          field: fieldAt(prefix, "app_data", "extinfo"),
          message: "is required for app events",
        });
      } else if (extinfo[0] !== "a2" && extinfo[0] !== "i2") {
        issues.push({
          field: fieldAt(prefix, "app_data", "extinfo", 0),
          message: 'must be "a2" (Android) or "i2" (iOS)',
        });
      }
      break;
    }
    case "business_messaging":
      if (e.messaging_channel === undefined) {
        issues.push({
          field: fieldAt(prefix, "messaging_channel"),
          message: "is required for business messaging events (e.g. whatsapp, messenger)",
        });
      }
      break;
    default:
      break;
  }
}

/** Meta requires value and currency on Purchase events; what is missing goes into `issues`. */
export function purchaseRequirements(
  eventName: string,
  customData: CustomDataInput | undefined,
  prefix: readonly PropertyKey[],
  issues: FieldIssue[],
): void {
  if (eventName !== "Purchase") return;
  if (customData?.value === undefined) {
    issues.push({
      field: fieldAt(prefix, "custom_data", "value"),
      message: "is required for Purchase events",
    });
  }
  if (customData?.currency === undefined) {
    issues.push({
      field: fieldAt(prefix, "custom_data", "currency"),
      message: "is required for Purchase events",
    });
  }
}
