/** The ports the HTTP routes and the queue consumer depend on; adapters implement them. */

export interface DependencyCheck {
  ok: boolean;
  latencyMs?: number;
  message?: string;
}

export interface Readiness {
  /** One entry per dependency; never throws. */
  check(): Promise<Record<string, DependencyCheck>>;
}

export interface Services {
  readiness: Readiness;
}
