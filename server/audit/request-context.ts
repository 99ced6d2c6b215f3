import { AsyncLocalStorage } from "node:async_hooks";

/** The request being served, so audit entries carry its id without threading it through every service. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();
