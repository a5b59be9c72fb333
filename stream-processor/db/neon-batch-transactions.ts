/** BatchTransactions on Postgres through the Neon serverless Pool: one pooled connection per batch transaction. */
import { ValidationError } from "#core/errors";
import type {
  BatchTransaction,
  BatchTransactions,
  OffsetAdvance,
  OffsetAdvanceResult,
} from "../batch/batch-transaction";
import { ConsumerOffsets, loadNextOffsets } from "./consumer-offsets";
import { type Pool, withTransaction } from "./create-pool";
import { isDataRefusal, sqlstateOf } from "./sqlstate";
import type { Queryable, QueryTimer } from "./timed-query";

export class NeonBatchTransactions implements BatchTransactions {
  constructor(
    private readonly pool: Pool,
    private readonly timer: QueryTimer = () => {},
  ) {}

  async inTransaction<T>(fn: (tx: BatchTransaction) => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await withTransaction(this.pool, (client) =>
        fn(batchTransactionOn(client, this.timer)),
      );
    } catch (error) {
      throw refusalOrSame(error);
    } finally {
      this.timer("transaction", performance.now() - started);
    }
  }

  loadNextOffsets(
    groupId: string,
    topic: string,
    partitions: readonly number[],
  ): Promise<Map<number, string>> {
    return loadNextOffsets(this.pool, groupId, topic, partitions);
  }
}

/** The BatchTransaction of a connection on which a transaction is open (BEGIN was sent). */
export function batchTransactionOn(
  connection: Queryable,
  timer: QueryTimer = () => {},
): BatchTransaction {
  return new OpenBatchTransaction(connection, timer);
}

class OpenBatchTransaction implements BatchTransaction {
  private readonly offsets: ConsumerOffsets;

  constructor(
    readonly sql: Queryable,
    timer: QueryTimer,
  ) {
    this.offsets = new ConsumerOffsets(sql, timer);
  }

  advanceOffset(advance: OffsetAdvance): Promise<OffsetAdvanceResult> {
    return this.offsets.advanceOffset(advance);
  }

  advanceOffsets(advances: readonly OffsetAdvance[]): Promise<OffsetAdvanceResult[]> {
    return this.offsets.advanceOffsets(advances);
  }
}

/**
 * The database refusing the data itself (see isDataRefusal: data exception, integrity violation,
 * program limit exceeded) becomes a ValidationError, which the batch handler isolates and
 * dead-letters; everything else (connection lost, serialization failure, missing table) stays
 * as it is and is retried.
 */
function refusalOrSame(error: unknown): unknown {
  const code = sqlstateOf(error);
  if (isDataRefusal(error)) {
    return new ValidationError(
      `Postgres refused the data (${code}): ${(error as Error).message}`,
      [],
      {
        cause: error,
        context: { sqlstate: code },
      },
    );
  }
  return error;
}
