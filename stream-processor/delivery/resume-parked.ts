/**
 * The resumer of paused destinations: every interval it lists the destinations with parked
 * events, tries the oldest parked request of each one that is due, and on success sends the
 * rest in order; once none are left the destination is resumed (its batches send again).
 */
import type { Logger } from "pino";
import { type BackoffSpec, backoffMs } from "../batch/backoff-ms";
import type { BatchTransactions } from "../batch/batch-transaction";
import type { Queryable } from "../db/timed-query";
import type { DeadLetterSink } from "../kafka/dead-letter-sink";
import {
  type DeliveryObserver,
  type DeliveryResults,
  deliverRequest,
  emptyResults,
} from "./deliver-request";
import type { DestinationDirectory, LiveDestination } from "./destination-directory";
import type { DestinationPauses } from "./destination-pauses";
import type { DestinationSender } from "./destination-sender";
import { insertBatchRecords } from "./handle-delivery-batch";
import {
  deleteParked,
  discardParked,
  listParkedDestinations,
  openParked,
  takeOldestParked,
} from "./parked-events";

export interface ParkedResumerDeps {
  /** Lists parked destinations outside any transaction. */
  sql: Queryable;
  transactions: Pick<BatchTransactions, "inTransaction">;
  directory: DestinationDirectory;
  sender: DestinationSender;
  deadLetters: DeadLetterSink;
  pauses: DestinationPauses;
  key: CryptoKey;
  /** Between two looks at the parked events, ms. */
  intervalMs: number;
  /** Back-off between tries of one still failing destination. */
  backoff: BackoffSpec;
  /** A paused destination with nothing parked is resumed after this long, ms. */
  pauseAfterMs: number;
  log: Logger;
  observer: DeliveryObserver & {
    /** Parked events and paused destinations, after every look. */
    parkedNow(events: number, destinations: number): void;
  };
  nowMs?: () => number;
}

type Owner = { tenant: string; destinationId: string };

/** What one try of a parked row came to. */
type Drained = "sent" | "empty" | "still-failing";

export class ParkedResumer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /** Per destination: failed tries in a row and when the next try is due (epoch ms). */
  private readonly due = new Map<string, { failures: number; atMs: number }>();

  constructor(private readonly deps: ParkedResumerDeps) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      this.running = this.resumeDue()
        .catch((error: unknown) =>
          this.deps.log.warn({ err: error }, "resuming parked events failed"),
        )
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.deps.intervalMs);
        });
    };
    // The first look right away: after a restart, batches learn the pauses from the database.
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }

  /** One look: every due destination with parked events is tried; exposed for tests. */
  async resumeDue(): Promise<void> {
    const now = this.deps.nowMs ?? Date.now;
    const parked = await listParkedDestinations(this.deps.sql);
    this.deps.observer.parkedNow(
      parked.reduce((n, p) => n + p.events, 0),
      parked.length,
    );
    const withRows = new Set(parked.map((p) => p.destinationId));
    // A destination paused here whose batches never committed parked events (or another
    // member sent them) is resumed once the pause delay has passed: its next batch tries it.
    for (const p of this.deps.pauses.list()) {
      if (!withRows.has(p.destinationId) && now() - p.sinceMs >= this.deps.pauseAfterMs) {
        this.resume(p.destinationId, "nothing parked");
      }
    }
    for (const p of parked) {
      if (this.stopped) return;
      const owner = { tenant: p.tenant, destinationId: p.destinationId };
      const directory = await this.deps.directory.destinationsOf([p.tenant]);
      const destination = directory.get(p.tenant)?.find((d) => d.id === p.destinationId);
      if (destination === undefined) {
        // Deleted by its tenant (or its token no longer opens): nothing more goes to it.
        const discarded = await this.deps.transactions.inTransaction((tx) =>
          discardParked(tx.sql, owner),
        );
        this.deps.log.warn(
          { tenant: p.tenant, destination: p.destinationId, requests: discarded },
          "parked events discarded: the destination no longer exists",
        );
        this.resume(p.destinationId, "deleted");
        continue;
      }
      // Batches park its events from now on (another member may have paused it).
      this.deps.pauses.pause({
        tenant: p.tenant,
        destinationId: p.destinationId,
        kind: destination.kind,
        sinceMs: now(),
        reason: "events parked",
      });
      const due = this.due.get(p.destinationId);
      if (due !== undefined && due.atMs > now()) continue;
      await this.drain(destination, owner, now);
    }
  }

  /** Sends the destination's parked requests, oldest first, until none is left or one fails. */
  private async drain(destination: LiveDestination, owner: Owner, now: () => number) {
    for (;;) {
      if (this.stopped) return;
      const drained = await this.sendOldest(destination, owner);
      if (drained === "still-failing") {
        const failures = (this.due.get(owner.destinationId)?.failures ?? 0) + 1;
        this.due.set(owner.destinationId, {
          failures,
          atMs: now() + backoffMs(failures, this.deps.backoff),
        });
        return;
      }
      this.due.delete(owner.destinationId);
      if (drained === "empty") {
        this.resume(owner.destinationId, "parked events sent");
        return;
      }
    }
  }

  /**
   * One parked row, locked in a transaction while it is sent: deleted with the destination's
   * answer recorded when it has a final one, left as it was when the destination still fails.
   */
  private sendOldest(destination: LiveDestination, owner: Owner): Promise<Drained> {
    return this.deps.transactions.inTransaction(async (tx): Promise<Drained> => {
      const row = await takeOldestParked(tx.sql, owner);
      if (row === undefined) return "empty";
      const opened = await openParked(this.deps.key, owner, row);
      const out: DeliveryResults = emptyResults();
      if (!opened.ok) {
        // Another DESTINATION_ENCRYPTION_KEY: it can never be sent; say so and keep it.
        this.deps.log.error(
          { tenant: owner.tenant, destination: owner.destinationId, reason: opened.reason },
          "parked events do not open; they stay parked",
        );
        return "still-failing";
      }
      const answered = await deliverRequest(
        {
          sender: this.deps.sender,
          log: this.deps.log,
          observer: this.deps.observer,
          onTransient: async () => "park",
        },
        { destination, testEventCode: row.testEventCode ?? undefined, items: opened.items },
        out,
      );
      // A part still failing leaves the row for the next try (the parts taken are sent again
      // then, and the destination deduplicates them by event id as it does any resend).
      if (!answered || out.parked.length > 0) return "still-failing";
      if (out.letters.length > 0) await this.deps.deadLetters.send(out.letters);
      await deleteParked(tx.sql, owner, [row.parkedId]);
      await insertBatchRecords(tx.sql, out.records);
      return "sent";
    });
  }

  private resume(destinationId: string, why: string): void {
    const paused = this.deps.pauses.get(destinationId);
    if (paused === undefined) return;
    this.deps.pauses.resume(destinationId);
    this.due.delete(destinationId);
    this.deps.log.info(
      { tenant: paused.tenant, destination: destinationId, why },
      "destination resumed: its events are sent again",
    );
  }
}
