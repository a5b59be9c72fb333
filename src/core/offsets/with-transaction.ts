/** The transaction a consumer's batch and its stored offsets are written in, over any pg-like pool. */

/** What a pooled connection must offer (pg's and the Neon driver's PoolClient both do). */
export interface TransactionClient {
  query(text: string): Promise<unknown>;
  /** Back to the pool; an error discards the connection instead. */
  release(error?: Error): void;
}

export interface TransactionPool<C extends TransactionClient> {
  connect(): Promise<C>;
}

/**
 * Runs `fn` in one transaction on one pooled connection: COMMIT when it resolves, ROLLBACK
 * when it throws (the error is rethrown). The connection is always released; one whose
 * ROLLBACK failed is discarded rather than returned to the pool in an unknown state.
 */
export async function withTransaction<C extends TransactionClient, T>(
  pool: TransactionPool<C>,
  fn: (client: C) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    try {
      await client.query("ROLLBACK");
    } catch (rollbackError) {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.release(broken);
  }
}
