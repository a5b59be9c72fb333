/** The PersonErasureStore port: deletes the Postgres rows linked to one person of one tenant. */
import type { ParkedBundleBucket, PersonTable } from "#core/privacy";

export interface PersonErasureStore {
  /** Deletes the predictions of the keyed entity ids and the rows linked to them; counts per table. */
  erase(tenant: string, entityKeys: readonly string[]): Promise<Record<PersonTable, number>>;
  close(): Promise<void>;
}

/** What the services bundle holds for the erasure route. */
export interface PersonErasureServices {
  open(): PersonErasureStore;
  /** The DEAD_LETTERS bucket, whose parked bundles are scrubbed too; absent when not bound. */
  deadLetters: ParkedBundleBucket | undefined;
}
