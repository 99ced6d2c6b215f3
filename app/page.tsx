import { redirect } from "next/navigation";
import { getServerSession } from "next-auth";
import { buildAuthOptions } from "@/server/auth/options";

export const dynamic = "force-dynamic";

export default async function Home() {
  const session = await getServerSession(buildAuthOptions());
  redirect(session ? "/orgs" : "/signin");
}
