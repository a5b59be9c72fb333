/** Worker tests' global setup (Node): the webhook receiver the Worker delivers test events to. */
import type { TestProject } from "vitest/node";
import { startWebhookReceiver } from "../support/webhook-receiver";

declare module "vitest" {
  export interface ProvidedContext {
    webhookReceiverUrl: string;
  }
}

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const receiver = await startWebhookReceiver();
  project.provide("webhookReceiverUrl", receiver.url);
  return () => receiver.close();
}
