/**
 * Entry of the delivery service (`npm run delivery:start`): forwards accepted events to the
 * tenants' destinations (Meta's Conversions API). It runs beside the stream processor, from the
 * same environment, as its own consumer group, so a slow or failing destination never holds up
 * the metrics.
 */
import { LOCAL_DESTINATION_ENCRYPTION_KEY } from "#core/destinations";
import { loadStreamConfig } from "./config";
import { startDeliveryService } from "./delivery/start-delivery-service";
import { createLogger } from "./observability/create-logger";

async function main(): Promise<void> {
  const config = loadStreamConfig();
  const log = createLogger(config.logLevel).child({ component: "delivery" });
  if (config.production && config.delivery.encryptionKey === LOCAL_DESTINATION_ENCRYPTION_KEY) {
    throw new Error(
      "DESTINATION_ENCRYPTION_KEY must be set to a secret of your own in production.",
    );
  }
  const service = await startDeliveryService(config, { log });
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "stopping: finishing the batch in hand");
      const timer = setTimeout(() => process.exit(1), config.shutdownTimeoutMs);
      service.stop().then(
        () => {
          clearTimeout(timer);
          process.exit(0);
        },
        () => process.exit(1),
      );
    });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
