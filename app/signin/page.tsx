import { oidcSettings } from "@/server/auth/options";
import { SignInForm } from "./SignInForm";

export const dynamic = "force-dynamic";

export default function SignInPage() {
  const sso = oidcSettings();
  return <SignInForm ssoName={sso?.name ?? null} />;
}
