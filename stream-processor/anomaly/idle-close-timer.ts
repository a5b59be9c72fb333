/** The wall-clock timer that closes the minutes of silent tenants (AnomalyStage.closeIdle) in a transaction of its own, while the consumer group has no backlog. */
import type { Logger } from "pino";
import type { BatchTransactions } from "../batch/batch-transaction";
import type { Clock } from "../clock/clock";
import type { ConsumerBacklog } from "../kafka/kafkajs-consumer-backlog";
import type { AnomalyStage } from "./anomaly-stage";

export interface IdleCloseTimer {
  /** One check now (what the timer runs); answers the tenants closed. */
  tick(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Every `intervalMs` of real time: when no record of the consumed topics waits (a processor
 * catching up on a backlog is not a silent tenant), runs the stage's idle close at the clock's
 * time in one transaction (progress locked, state, anomalies and alerts written together, as a
 * batch does). One tick at a time; a failed tick is logged and the next one tries again.
 */
export function startIdleCloseTimer(deps: {
  stage: AnomalyStage;
  transactions: BatchTransactions;
  backlog: ConsumerBacklog;
  clock: Clock;
  intervalMs: number;
  log: Logger;
}): IdleCloseTimer {
  const { stage, transactions, backlog, clock, log } = deps;
  let running: Promise<number> | undefined;
  const tick = (): Promise<number> => {
    running ??= (async () => {
      try {
        if ((await backlog.records()) > 0) return 0;
        const closed = await transactions.inTransaction((tx) => stage.closeIdle(tx, clock.nowMs()));
        if (closed > 0) log.debug({ tenants: closed }, "closed the minutes of silent tenants");
        return closed;
      } catch (error) {
        log.warn({ err: error }, "closing the minutes of silent tenants failed; retrying later");
        return 0;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void tick(), deps.intervalMs);
  timer.unref();
  return {
    tick,
    async stop() {
      clearInterval(timer);
      await running;
      await backlog.close();
    },
  };
}
