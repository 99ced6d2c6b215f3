// One instance per process, whichever copy of a module asks for it.
//
// Hearth's custom server (server/main.ts) and Next's route handlers run in one Node process but
// load separate copies of the same modules: Next bundles its route handlers apart from the custom
// server, and its dev server reloads modules when files change. A module-level `new X()` would give
// each copy (and each reload) its own instance: an event a tRPC handler publishes would never reach
// the custom server's subscribers, the database settings made at start would be missing in the
// handlers' copy. What must be shared lives on globalThis instead, under a Symbol.for key, made by
// the first copy that asks. No imports: anything may use it.

/** The process's instance named `key` (e.g. "hearth.auditEvents"), made by `make` on first use. */
export function processSingleton<T extends object>(key: string, make: () => T): T {
  const store = globalThis as unknown as Record<symbol, T | undefined>;
  return (store[Symbol.for(key)] ??= make());
}
