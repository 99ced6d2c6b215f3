import { router } from "./init";
import { userRouter } from "@/server/users/router";
import { orgRouter } from "@/server/orgs/router";
import { projectRouter } from "@/server/projects/router";
import { memberRouter } from "@/server/members/router";
import { inviteRouter } from "@/server/invites/router";
import { apiKeyRouter } from "@/server/apikeys/router";
import { auditRouter } from "@/server/audit/router";
import { policyRouter } from "@/server/policies/router";
import { suiteRouter } from "@/server/suites/router";
import { runRouter } from "@/server/runs/router";
import { modelRouter } from "@/server/models/router";
import { datasetRouter } from "@/server/datasets/router";
import { dashboardRouter } from "@/server/dashboards/router";
import { collabRouter } from "@/server/collab/router";
import { endpointRouter } from "@/server/endpoints/router";
import { nodeRouter } from "@/server/node-registry/router";
import { reviewRouter } from "@/server/review/router";
import { servedLogRouter } from "@/server/serving/router";
import { caseReviewRouter } from "@/server/clause-review/router";
import { scheduleRouter } from "@/server/schedules/router";
import { notificationRouter } from "@/server/notifications/router";
import { liveRouter } from "@/server/live/router";

export const appRouter = router({
  user: userRouter,
  org: orgRouter,
  project: projectRouter,
  member: memberRouter,
  invite: inviteRouter,
  apiKey: apiKeyRouter,
  audit: auditRouter,
  policy: policyRouter,
  suite: suiteRouter,
  run: runRouter,
  model: modelRouter,
  dataset: datasetRouter,
  dashboard: dashboardRouter,
  collab: collabRouter,
  endpoint: endpointRouter,
  node: nodeRouter,
  review: reviewRouter,
  servedLog: servedLogRouter,
  caseReview: caseReviewRouter,
  schedule: scheduleRouter,
  notification: notificationRouter,
  live: liveRouter,
});

export type AppRouter = typeof appRouter;
