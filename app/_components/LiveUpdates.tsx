"use client";
// The page's one live feed (live.watch, server-sent events through PostgreSQL, so a change made through any
// instance arrives): a new notification re-reads the bell and the notifications list; on a project's
// pages, a run created or changing status re-reads the run lists and that run. Pages keep slower
// refreshes for a dropped connection; a reconnecting feed resumes from the last event it saw.
import { useParams } from "next/navigation";
import { useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { useTRPC } from "@/app/_lib/trpc";

export function LiveUpdates() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const { projectId } = useParams<{ projectId?: string }>();
  useSubscription(
    trpc.live.watch.subscriptionOptions(
      { projectId: projectId ?? null },
      {
        onData: ({ data }) => {
          if (data.type === "notification") {
            void queryClient.invalidateQueries({ queryKey: trpc.notification.list.pathKey() });
            return;
          }
          void queryClient.invalidateQueries({ queryKey: trpc.run.list.pathKey() });
          void queryClient.invalidateQueries({ queryKey: trpc.run.get.queryKey({ runId: data.runId }) });
        },
      },
    ),
  );
  return null;
}
