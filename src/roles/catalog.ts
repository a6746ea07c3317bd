import type { ApiRoute } from "../platform/openapi.ts";
import { FORM_API } from "./form-service/api.ts";
import { PROCESS_API } from "./process-service/api.ts";
import { TASK_API } from "./task-service/api.ts";

/** Every service role's public REST routes, as each describes them: what the gateway proxies and documents. */
export const PUBLIC_API: readonly ApiRoute[] = [...TASK_API, ...FORM_API, ...PROCESS_API];
