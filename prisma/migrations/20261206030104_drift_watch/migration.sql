-- CreateEnum
CREATE TYPE "ScheduleInterval" AS ENUM ('HOURLY', 'DAILY');

-- CreateEnum
CREATE TYPE "WebhookDeliveryStatus" AS ENUM ('PENDING', 'DELIVERED', 'FAILED');

-- CreateTable
CREATE TABLE "EvalSchedule" (
    "id" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "suiteVersionIds" TEXT[],
    "modelId" TEXT,
    "alias" TEXT,
    "endpointId" TEXT,
    "interval" "ScheduleInterval" NOT NULL,
    "offsetMinutes" INTEGER NOT NULL DEFAULT 0,
    "marginPoints" DOUBLE PRECISION NOT NULL DEFAULT 5,
    "webhookUrl" TEXT,
    "webhookSecretCiphertext" TEXT,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "nextRunAt" TIMESTAMP(3) NOT NULL,
    "leaseHolder" TEXT,
    "leaseExpiresAt" TIMESTAMP(3),
    "createdById" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "EvalSchedule_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScheduleFiring" (
    "id" TEXT NOT NULL,
    "scheduleId" TEXT NOT NULL,
    "slot" TIMESTAMP(3) NOT NULL,
    "manual" BOOLEAN NOT NULL DEFAULT false,
    "modelVersionId" TEXT,
    "error" TEXT,
    "completedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ScheduleFiring_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ScheduleRun" (
    "id" TEXT NOT NULL,
    "scheduleId" TEXT NOT NULL,
    "firingId" TEXT NOT NULL,
    "suiteVersionId" TEXT NOT NULL,
    "runId" TEXT NOT NULL,
    "score" DOUBLE PRECISION,
    "previousRunId" TEXT,
    "previousScore" DOUBLE PRECISION,
    "regressions" INTEGER NOT NULL DEFAULT 0,
    "alerted" BOOLEAN NOT NULL DEFAULT false,
    "evaluatedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ScheduleRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Notification" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "title" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "link" TEXT NOT NULL,
    "readAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Notification_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WebhookDelivery" (
    "id" TEXT NOT NULL,
    "scheduleId" TEXT NOT NULL,
    "scheduleRunId" TEXT,
    "url" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "status" "WebhookDeliveryStatus" NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "maxAttempts" INTEGER NOT NULL DEFAULT 6,
    "nextAttemptAt" TIMESTAMP(3) NOT NULL,
    "lastError" TEXT,
    "lastStatus" INTEGER,
    "attemptLog" JSONB NOT NULL DEFAULT '[]',
    "deliveredAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WebhookDelivery_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "EvalSchedule_enabled_nextRunAt_idx" ON "EvalSchedule"("enabled", "nextRunAt");

-- CreateIndex
CREATE UNIQUE INDEX "EvalSchedule_projectId_name_key" ON "EvalSchedule"("projectId", "name");

-- CreateIndex
CREATE INDEX "ScheduleFiring_scheduleId_createdAt_idx" ON "ScheduleFiring"("scheduleId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "ScheduleFiring_scheduleId_slot_key" ON "ScheduleFiring"("scheduleId", "slot");

-- CreateIndex
CREATE UNIQUE INDEX "ScheduleRun_runId_key" ON "ScheduleRun"("runId");

-- CreateIndex
CREATE INDEX "ScheduleRun_scheduleId_suiteVersionId_createdAt_idx" ON "ScheduleRun"("scheduleId", "suiteVersionId", "createdAt");

-- CreateIndex
CREATE INDEX "ScheduleRun_evaluatedAt_idx" ON "ScheduleRun"("evaluatedAt");

-- CreateIndex
CREATE UNIQUE INDEX "ScheduleRun_firingId_suiteVersionId_key" ON "ScheduleRun"("firingId", "suiteVersionId");

-- CreateIndex
CREATE INDEX "Notification_userId_readAt_createdAt_idx" ON "Notification"("userId", "readAt", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookDelivery_scheduleRunId_key" ON "WebhookDelivery"("scheduleRunId");

-- CreateIndex
CREATE INDEX "WebhookDelivery_status_nextAttemptAt_idx" ON "WebhookDelivery"("status", "nextAttemptAt");

-- AddForeignKey
ALTER TABLE "EvalSchedule" ADD CONSTRAINT "EvalSchedule_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EvalSchedule" ADD CONSTRAINT "EvalSchedule_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "EvalSchedule" ADD CONSTRAINT "EvalSchedule_endpointId_fkey" FOREIGN KEY ("endpointId") REFERENCES "Endpoint"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScheduleFiring" ADD CONSTRAINT "ScheduleFiring_scheduleId_fkey" FOREIGN KEY ("scheduleId") REFERENCES "EvalSchedule"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScheduleRun" ADD CONSTRAINT "ScheduleRun_scheduleId_fkey" FOREIGN KEY ("scheduleId") REFERENCES "EvalSchedule"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScheduleRun" ADD CONSTRAINT "ScheduleRun_firingId_fkey" FOREIGN KEY ("firingId") REFERENCES "ScheduleFiring"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ScheduleRun" ADD CONSTRAINT "ScheduleRun_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notification" ADD CONSTRAINT "Notification_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Notification" ADD CONSTRAINT "Notification_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WebhookDelivery" ADD CONSTRAINT "WebhookDelivery_scheduleId_fkey" FOREIGN KEY ("scheduleId") REFERENCES "EvalSchedule"("id") ON DELETE CASCADE ON UPDATE CASCADE;
