/** Builds the kafkajs client from the stream config, with kafkajs' own logs routed into pino. */
import { Kafka, type LogEntry, logLevel } from "kafkajs";
import type { Logger } from "pino";
import type { StreamConfig } from "../config";

export function createKafka(config: StreamConfig["kafka"], log: Logger): Kafka {
  return new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    ...(config.sasl === undefined ? {} : { sasl: saslOptions(config.sasl) }),
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...rest } = entry.log;
      const fields = { kafkajs: entry.namespace, ...rest };
      if (entry.level <= logLevel.ERROR) log.error(fields, message);
      else if (entry.level === logLevel.WARN) log.warn(fields, message);
      else if (entry.level === logLevel.INFO) log.info(fields, message);
      else log.debug(fields, message);
    },
  });
}

/** kafkajs types SASL per mechanism; the config holds one of the three string mechanisms. */
export function saslOptions(sasl: NonNullable<StreamConfig["kafka"]["sasl"]>) {
  switch (sasl.mechanism) {
    case "plain":
      return { mechanism: "plain" as const, username: sasl.username, password: sasl.password };
    case "scram-sha-256":
      return {
        mechanism: "scram-sha-256" as const,
        username: sasl.username,
        password: sasl.password,
      };
    case "scram-sha-512":
      return {
        mechanism: "scram-sha-512" as const,
        username: sasl.username,
        password: sasl.password,
      };
  }
}
