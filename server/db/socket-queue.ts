// pglite-socket queues each wire-protocol message separately and, outside a transaction, lets messages
// of different connections interleave. With the extended query protocol (Parse, Bind, Execute ... Sync)
// that is wrong: one connection's Parse can replace another's unnamed statement between its Parse and
// Bind ("bind message supplies 3 parameters, but prepared statement requires 2"), or worse, run with
// another connection's parameters. This keeps a connection exclusive from its first message until its
// Sync (or simple Query / Terminate), as well as for a whole transaction.
import type { PGlite } from "@electric-sql/pglite";

interface QueuedMessage {
  handlerId: number;
  message: Uint8Array;
  resolve(bytes: number): void;
  reject(error: unknown): void;
  onData(data: Uint8Array): void;
}

interface QueryQueue {
  db: PGlite;
  queue: QueuedMessage[];
  processing: boolean;
  lastHandlerId: number | null;
  processQueue(): Promise<void>;
  clearQueueForHandler(handlerId: number): void;
}

const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'

/** A message that ends a request cycle; startup messages (no type byte) also stand alone. */
function endsCycle(message: Uint8Array): boolean {
  const type = message[0];
  return type === SYNC || type === QUERY || type === TERMINATE || type === 0;
}

export function makeQueueSyncAware(server: unknown): void {
  const queue = (server as { queryQueue?: QueryQueue }).queryQueue;
  if (!queue || typeof queue.processQueue !== "function" || !Array.isArray(queue.queue)) {
    throw new Error("pglite-socket's internals changed: review server/db/socket-queue.ts before upgrading it");
  }
  let midCycle = false;
  const clear = queue.clearQueueForHandler.bind(queue);
  queue.clearQueueForHandler = (handlerId: number) => {
    if (handlerId === queue.lastHandlerId) midCycle = false;
    clear(handlerId);
  };
  queue.processQueue = async function processQueue(this: QueryQueue) {
    if (this.processing || this.queue.length === 0) return;
    this.processing = true;
    try {
      while (this.queue.length > 0) {
        let item: QueuedMessage | undefined;
        if ((midCycle || this.db.isInTransaction()) && this.lastHandlerId !== null) {
          const index = this.queue.findIndex((q) => q.handlerId === this.lastHandlerId);
          if (index === -1) break; // wait for the owning connection's next message
          item = this.queue.splice(index, 1)[0];
        } else {
          item = this.queue.shift()!;
        }
        let bytes = 0;
        try {
          await this.db.runExclusive(() => this.db.execProtocolRawStream(item.message, { onRawData: (data: Uint8Array) => ((bytes += data.length), item.onData(data)) }));
        } catch (error) {
          midCycle = false;
          item.reject(error);
          continue;
        }
        this.lastHandlerId = item.handlerId;
        midCycle = !endsCycle(item.message);
        item.resolve(bytes);
      }
    } finally {
      this.processing = false;
    }
  }.bind(queue);
}
