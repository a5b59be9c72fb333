/** DestinationSender for Meta: `POST {graph}/{version}/{pixel_id}/events` with the batch as JSON. */
import { classifyMetaResponse } from "#core/destinations";
import type { MetaOutcome } from "./delivery-types";
import type { LiveDestination } from "./destination-directory";
import type { DestinationSender } from "./destination-sender";

export interface GraphApiMetaSenderOptions {
  /** e.g. https://graph.facebook.com, or the local Graph API test server. */
  baseUrl: string;
  version: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

export class GraphApiMetaSender implements DestinationSender {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: GraphApiMetaSenderOptions) {
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
  }

  async send(
    destination: LiveDestination,
    eventJsons: readonly string[],
    testEventCode: string | undefined,
  ): Promise<MetaOutcome> {
    const url = `${this.options.baseUrl}/${this.options.version}/${encodeURIComponent(destination.settings.pixelId)}/events`;
    // The events are spliced in as the JSON text they already are (no parse and stringify per
    // event). The token goes in the body, not the URL, so no proxy or access log records it.
    const body = `{"data":[${eventJsons.join(",")}]${
      testEventCode === undefined ? "" : `,"test_event_code":${JSON.stringify(testEventCode)}`
    },"partner_agent":"driftline","access_token":${JSON.stringify(destination.token)}}`;
    let response: Response;
    try {
      response = await this.fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      return {
        kind: "transient",
        reason: `no answer from ${new URL(url).host}: ${(error as Error).message}`,
        httpStatus: null,
        fbtraceId: null,
      };
    }
    const text = await response.text().catch(() => "");
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // A proxy's error page: classified by its status alone.
    }
    return classifyMetaResponse(response.status, json);
  }
}
