// A round-robin TCP proxy in front of several Hearth instances, as a load balancer without sticky
// sessions spreads connections: each new connection goes to the next backend (HTTP, server-sent events
// and WebSocket upgrades alike, since it forwards bytes); a backend that refuses the connection (stopped,
// killed) is skipped for the next one. `served` records which backend took each connection.
import net from "node:net";
import type { AddressInfo } from "node:net";

export interface RoundRobinProxy {
  url: string;
  /** The backend index that took each connection, in order. */
  served: number[];
  close(): Promise<void>;
}

export async function startRoundRobinProxy(backends: { host: string; port: number }[]): Promise<RoundRobinProxy> {
  let next = 0;
  const served: number[] = [];
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    return socket;
  };
  const server = net.createServer((client) => {
    track(client);
    client.pause();
    const connect = (tries: number) => {
      const index = next++ % backends.length;
      const upstream = track(net.connect(backends[index]));
      let connected = false;
      upstream.once("connect", () => {
        connected = true;
        served.push(index);
        client.on("error", () => upstream.destroy());
        upstream.pipe(client);
        client.pipe(upstream);
        client.resume();
      });
      upstream.on("error", () => {
        if (connected) client.destroy(); // the backend died mid-connection: so does the client's
        else if (tries + 1 < backends.length) connect(tries + 1);
        else client.destroy();
      });
    };
    connect(0);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    served,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
