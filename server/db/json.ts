import type { Prisma } from "@/server/db/generated/client";

/**
 * A value written to a JSON column. Prisma's input type cannot express interfaces without index
 * signatures (a GradeResult, a gate report), so the one cast from a plain JSON-serializable value
 * lives here instead of at every write.
 */
export function jsonValue<T extends object | string | number | boolean>(value: T): Prisma.InputJsonValue {
  return value as unknown as Prisma.InputJsonValue;
}
