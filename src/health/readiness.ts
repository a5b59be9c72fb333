/** The readiness port: each dependency's check, for GET /ready. */

export interface DependencyCheck {
  ok: boolean;
  latencyMs?: number;
  message?: string;
}

export interface Readiness {
  /** One entry per dependency; never throws. */
  check(): Promise<Record<string, DependencyCheck>>;
}
