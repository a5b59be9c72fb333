/** DestinationSender for Meta: `POST {graph}/{version}/{pixel_id}/events` with the batch as JSON. */
import { Agent, request } from "undici";
import { classifyMetaResponse } from "#core/destinations";
import type { MetaOutcome } from "./delivery-types";
import type { LiveDestination } from "./destination-directory";
import type { DestinationSender } from "./destination-sender";

export interface GraphApiMetaSenderOptions {
  /** e.g. https://graph.facebook.com, or the local Graph API test server. */
  baseUrl: string;
  version: string;
  timeoutMs: number;
  /** Sends through this instead of undici's keep-alive agent (tests). */
  fetch?: typeof fetch;
}

/** Connections kept open to the Graph API host: the requests in flight of every partition. */
const CONNECTIONS = 32;

export class GraphApiMetaSender implements DestinationSender {
  /**
   * undici's request() on an agent of its own rather than fetch(): kept-alive connections and no
   * WHATWG Request/Response objects per call (a request carries up to ~1 MB of events).
   */
  private readonly agent = new Agent({ connections: CONNECTIONS, keepAliveTimeout: 30_000 });

  constructor(private readonly options: GraphApiMetaSenderOptions) {}

  /** Closes the kept-alive connections. */
  close(): Promise<void> {
    return this.agent.close();
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
    let status: number;
    let text: string;
    try {
      const signal = AbortSignal.timeout(this.options.timeoutMs);
      const headers = { "content-type": "application/json" };
      if (this.options.fetch !== undefined) {
        const response = await this.options.fetch(url, { method: "POST", headers, body, signal });
        status = response.status;
        text = await response.text().catch(() => "");
      } else {
        const response = await request(url, {
          method: "POST",
          headers,
          body,
          signal,
          dispatcher: this.agent,
        });
        status = response.statusCode;
        text = await response.body.text().catch(() => "");
      }
    } catch (error) {
      return {
        kind: "transient",
        reason: `no answer from ${new URL(url).host}: ${(error as Error).message}`,
        httpStatus: null,
        fbtraceId: null,
      };
    }
    let json: unknown = null;
    try {
      json = JSON.parse(text);
    } catch {
      // A proxy's error page: classified by its status alone.
    }
    return classifyMetaResponse(status, json);
  }
}
