-- AlterEnum
ALTER TYPE "RunTarget" ADD VALUE 'SERVER';
