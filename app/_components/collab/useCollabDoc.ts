"use client";
// One shared document in the browser: a Y.Doc kept in IndexedDB (edits survive going offline and
// merge on reconnect) and synced over /yjs/<docName> with the y-websocket client. Reports the
// connection state honestly: the server tells VIEWERs they are read-only, and closes revoked ones.
import { useEffect, useState } from "react";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { IndexeddbPersistence } from "y-indexeddb";
import * as decoding from "lib0/decoding";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "offline" | "revoked";

export interface CollabUser {
  name: string;
  email: string;
}

export interface Presence {
  clientId: number;
  name: string;
  color: string;
  self: boolean;
}

export interface CollabSession {
  doc: Y.Doc;
  provider: WebsocketProvider;
  state: ConnectionState;
  /** The server said this user may only read (VIEWER), or the page said so. */
  readOnly: boolean;
  /** True once the server's copy (or the local IndexedDB copy) has been loaded. */
  loaded: boolean;
  presence: Presence[];
}

const COLORS = ["#c2410c", "#0f766e", "#7c3aed", "#b91c1c", "#1d4ed8", "#a16207", "#be185d", "#15803d"];

/** A stable colour per person, so the same collaborator looks the same everywhere. */
export function colorFor(key: string): string {
  let hash = 0;
  for (const ch of key) hash = (hash * 31 + ch.charCodeAt(0)) | 0;
  return COLORS[Math.abs(hash) % COLORS.length];
}

export function useCollabDoc(docName: string, user: CollabUser, canEdit: boolean): CollabSession | null {
  const [session, setSession] = useState<CollabSession | null>(null);

  useEffect(() => {
    const doc = new Y.Doc();
    const local = new IndexeddbPersistence(`hearth:${docName}`, doc);
    const serverUrl = `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}/yjs`;
    const provider = new WebsocketProvider(serverUrl, docName, doc, { maxBackoffTime: 5_000 });
    let state: ConnectionState = navigator.onLine ? "connecting" : "offline";
    let everConnected = false;
    let serverReadOnly = false;
    let loaded = false;

    const publish = () => {
      const presence: Presence[] = [];
      provider.awareness.getStates().forEach((value, clientId) => {
        const u = (value as { user?: { name?: string; color?: string } }).user;
        if (u?.name) presence.push({ clientId, name: u.name, color: u.color ?? "#888", self: clientId === doc.clientID });
      });
      setSession({ doc, provider, state, readOnly: serverReadOnly || !canEdit, loaded, presence });
    };

    // messageAuth: y-protocols' "permission denied" carries the reason; ours is "read-only".
    provider.messageHandlers[2] = (_encoder, decoder) => {
      if (decoding.readVarUint(decoder) === 0 && decoding.readVarString(decoder) === "read-only") {
        serverReadOnly = true;
        publish();
      }
    };
    const name = user.name || user.email || "Someone";
    const color = colorFor(user.email || name);
    provider.awareness.setLocalStateField("user", { name, color, colorLight: `${color}33` });

    provider.on("status", ({ status }) => {
      if (state === "revoked") return;
      if (status === "connected") {
        everConnected = true;
        state = "connected";
        serverReadOnly = false; // told again on each connection
      } else if (!navigator.onLine) state = "offline";
      else state = everConnected ? "reconnecting" : "connecting";
      publish();
    });
    provider.on("connection-close", () => {
      if (state !== "revoked" && state !== "offline") state = everConnected ? "reconnecting" : "connecting";
      publish();
    });
    provider.on("closed", () => {
      state = "revoked"; // the server closed with 44xx: access removed
      publish();
    });
    provider.on("sync", (synced: boolean) => {
      if (synced) loaded = true;
      publish();
    });
    local.whenSynced.then(() => {
      // Loaded from this browser's copy only when it held something: `doc.share` is no test, since an
      // editor asking for its Y.Text creates the (empty) type before anything has arrived, and an empty
      // document taken as loaded showed a policy with no clauses until the server's copy came in.
      if (doc.store.clients.size > 0) loaded = true;
      publish();
    });
    provider.awareness.on("change", publish);
    const goOffline = () => {
      state = "offline";
      provider.disconnect();
      publish();
    };
    const goOnline = () => {
      if (state === "revoked") return;
      state = everConnected ? "reconnecting" : "connecting";
      provider.connect();
      publish();
    };
    window.addEventListener("offline", goOffline);
    window.addEventListener("online", goOnline);
    publish();

    return () => {
      window.removeEventListener("offline", goOffline);
      window.removeEventListener("online", goOnline);
      provider.awareness.off("change", publish);
      provider.destroy();
      void local.destroy();
      doc.destroy();
      setSession(null);
    };
  }, [docName, user.name, user.email, canEdit]);

  return session;
}
