/** The Hono environment shared by every route: the services a request may use and its request id. */
import type { Services } from "./services";

export interface AppEnv {
  Variables: {
    requestId: string;
    services: Services;
  };
}
