/** Which destinations are paused (their events are parked, not sent), as this process knows it. */

export interface PausedDestination {
  tenant: string;
  destinationId: string;
  kind: string;
  sinceMs: number;
  reason: string;
}

/**
 * A destination is paused when one of its requests kept failing transiently for the pause delay,
 * or when the database holds parked events of it (another member paused it, or before a
 * restart). Batches then park its events without trying; the resumer sends the parked ones, and
 * resumes it once none are left.
 */
export class DestinationPauses {
  private readonly paused = new Map<string, PausedDestination>();

  isPaused(destinationId: string): boolean {
    return this.paused.has(destinationId);
  }

  /** True when it was not paused yet. */
  pause(entry: PausedDestination): boolean {
    if (this.paused.has(entry.destinationId)) return false;
    this.paused.set(entry.destinationId, entry);
    return true;
  }

  resume(destinationId: string): void {
    this.paused.delete(destinationId);
  }

  get(destinationId: string): PausedDestination | undefined {
    return this.paused.get(destinationId);
  }

  list(): PausedDestination[] {
    return [...this.paused.values()];
  }
}
