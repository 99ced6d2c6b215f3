// A tRPC subscription over HTTP as a browser holds one: the procedure's server-sent events, parsed.

export interface SseEvent {
  id: string | null;
  data: unknown;
}

/** A live subscription over HTTP as the browser holds one: the tRPC procedure's server-sent events, parsed. */
export function subscribe(baseUrl: string, procedure: string, input: unknown, cookie: string) {
  const controller = new AbortController();
  const events: SseEvent[] = [];
  /** Called with each data event as it arrives (benchmarks time them). */
  const listeners: ((event: SseEvent) => void)[] = [];
  const done = (async () => {
    const response = await fetch(`${baseUrl}/api/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, {
      headers: { cookie, accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (!response.ok || !response.body) throw new Error(`${procedure}: HTTP ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split("\n")) {
          const colon = line.indexOf(":");
          if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
        }
        // tRPC's own events (connected, ping) carry an event name; data events have none.
        if (fields.has("event") || !fields.has("data")) continue;
        const event = { id: fields.get("id") ?? null, data: (JSON.parse(fields.get("data")!) as { json: unknown }).json };
        events.push(event);
        for (const listener of listeners) listener(event);
      }
    }
  })().catch((error: unknown) => {
    if (!controller.signal.aborted) throw error;
  });
  return {
    events,
    onEvent: (listener: (event: SseEvent) => void) => void listeners.push(listener),
    close: () => (controller.abort(), done),
  };
}
