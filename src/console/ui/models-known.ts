/** The tenant's model names for the drift and performance pickers. */
import { ApiError, api } from "./api";

interface ModelList {
  models: { name: string }[];
}

/**
 * GET /v1/models needs the read role, which every console session has; a Worker that still asks
 * for admin answers 403, and the pickers then fall back to the demo model's name.
 */
export async function knownModels(): Promise<string[]> {
  try {
    const list = await api.get<ModelList>("/v1/models");
    const names = list.models.map((m) => m.name);
    return names.length > 0 ? names : ["conversion"];
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return ["conversion"];
    throw err;
  }
}
