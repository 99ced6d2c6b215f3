// Routing inference to GPU nodes: the RouteCompletion side of contracts/serving.ts. The hub
// (server/node-registry/hub.ts) is held in one slot per process (see processSingleton): the custom
// server owns the nodes' sockets, and Next's route handlers (the serving API) call routeCompletion
// from their own bundle of this module.
import { NoNodeAvailable, type RouteCompletion } from "@/contracts/serving";
import { processSingleton } from "@/server/lib/process-singleton";
import type { PrismaClient } from "@/server/db/generated/client";
import { InferenceHub, type HubInstance } from "./hub";

const slot = processSingleton("hearth.inferenceHubSlot", (): { hub?: InferenceHub } => ({}));

export const hubSlot = {
  get: (): InferenceHub | undefined => slot.hub,
  set: (hub: InferenceHub | undefined) => {
    slot.hub = hub;
  },
};

/** Runs a completion on a GPU node of the request's organization; NoNodeAvailable when none can. */
export const routeCompletion: RouteCompletion = (request, options) => {
  const hub = hubSlot.get();
  if (!hub) return Promise.reject(new NoNodeAvailable());
  return hub.route(request, options);
};

/** Creates this process's hub (server/main.ts does, once); with `instance`, it relays to nodes connected to other instances. */
export function startInferenceHub(db: () => PrismaClient, instance?: HubInstance): InferenceHub {
  const hub = hubSlot.get() ?? new InferenceHub(db, instance);
  hubSlot.set(hub);
  return hub;
}

export async function stopInferenceHub(): Promise<void> {
  const hub = hubSlot.get();
  hubSlot.set(undefined);
  await hub?.close();
}
