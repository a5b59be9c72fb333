/** The shape every local-stack service implements, so `npm start` and `npm test` treat them alike. */

export interface ServiceEndpoint {
  /** Where clients reach it, printed by `npm start`. */
  url: string;
  /** True when this call started it; false when an already running instance was reused. */
  startedHere: boolean;
}

export interface LocalService {
  name: string;
  /**
   * The daemons (pid and log file names under the state dir) this service runs when it starts
   * them, so a supervisor can tell whose process exited. Empty or absent: none of its own.
   */
  processes?: readonly string[];
  /** Starts the service unless it already runs; resolves once it is ready. Idempotent. */
  up(): Promise<ServiceEndpoint>;
  /** Stops it if this stack started it; a no-op otherwise. Idempotent. */
  down(): Promise<void>;
  /** Whether it answers its readiness check now. */
  isReady(): Promise<boolean>;
}
