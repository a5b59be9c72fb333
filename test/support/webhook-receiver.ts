/**
 * A real HTTP receiver for webhook tests (node:http on 127.0.0.1): each channel (a path segment)
 * is given the endpoint's secret, verifies every delivery with the `standardwebhooks` library as a
 * tenant's receiver would, and answers the status (and after the delay) its URL asks for.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

export interface ReceivedDelivery {
  headers: Record<string, string>;
  body: string;
  /** Whether the signature verified with the channel's secret (and the timestamp is recent). */
  verified: boolean;
  verifyError?: string;
  answeredStatus: number;
}

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>` */
  url: string;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Routes: `PUT /secrets/<channel>` (body: the whsec_ secret), `POST /hooks/<channel>?status=&delayMs=`
 * (a delivery), `GET /received/<channel>` (what arrived, as JSON).
 */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secrets = new Map<string, string>();
  const received = new Map<string, ReceivedDelivery[]>();
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    const [, kind, channel] = url.pathname.split("/");
    const body = await readBody(req);
    if (channel === undefined || channel === "") {
      res.writeHead(404).end();
      return;
    }
    if (req.method === "PUT" && kind === "secrets") {
      secrets.set(channel, body);
      res.writeHead(204).end();
      return;
    }
    if (req.method === "GET" && kind === "received") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(received.get(channel) ?? []));
      return;
    }
    if (req.method === "POST" && kind === "hooks") {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === "string") headers[name] = value;
      }
      let verified = false;
      let verifyError: string | undefined;
      const secret = secrets.get(channel);
      try {
        if (secret === undefined) throw new Error("no secret registered for this channel");
        new Webhook(secret).verify(body, headers);
        verified = true;
      } catch (error) {
        verifyError = (error as Error).message;
      }
      const status = Number(url.searchParams.get("status") ?? "204");
      const delayMs = Number(url.searchParams.get("delayMs") ?? "0");
      const list = received.get(channel) ?? [];
      list.push({
        headers,
        body,
        verified,
        ...(verifyError === undefined ? {} : { verifyError }),
        answeredStatus: status,
      });
      received.set(channel, list);
      if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
      if (!res.destroyed) res.writeHead(status).end();
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
