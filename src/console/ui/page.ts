/** What a page is: it renders off-screen from the API each refresh; the shell swaps it in. */
import type { SessionInfo } from "./api";

export interface PageContext {
  session: SessionInfo;
  /** Path segments after the page name in the hash (`#/drift/conversion` → ["conversion"]). */
  params: string[];
  /** Render again now (after an action). */
  refresh(): void;
  /** Navigate within the console. */
  go(hash: string): void;
}

export type Page = (ctx: PageContext) => Promise<Node>;

/** Held while the user is in the middle of something the next refresh must not wipe. */
export const holds = new Set<string>();

export const isAdmin = (session: SessionInfo) => session.roles.includes("admin");

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
