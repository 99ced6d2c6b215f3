"use client";
import Link from "next/link";
import { signIn } from "next-auth/react";
import { useSearchParams } from "next/navigation";
import { Suspense, useState, type FormEvent } from "react";
import { safeCallbackPath } from "@/contracts/redirect";

const ERRORS: Record<string, string> = {
  CredentialsSignin: "That email and password do not match an account.",
  OAuthSignin: "Single sign-on could not start. Check the SSO configuration.",
  OAuthCallback: "Single sign-on did not complete. Try again.",
  AccessDenied: "Your identity provider did not share an email address, which Hearth needs.",
  TooManyAttempts: "Too many failed sign-ins. Wait a little, then try again.",
};

function Form({ ssoName }: { ssoName: string | null }) {
  const params = useSearchParams();
  const callbackUrl = safeCallbackPath(params.get("callbackUrl"));
  const [error, setError] = useState<string | null>(params.get("error") ? (ERRORS[params.get("error")!] ?? "Sign-in failed. Try again.") : null);
  const [pending, setPending] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setError(null);
    const result = await signIn("credentials", {
      email: String(form.get("email")),
      password: String(form.get("password")),
      redirect: false,
    });
    setPending(false);
    if (result?.ok) window.location.assign(callbackUrl);
    else setError(ERRORS[result?.error ?? ""] ?? "Sign-in failed. Try again.");
  }

  return (
    <main className="page-narrow">
      <div className="row" style={{ marginBottom: "1.5rem" }}>
        <span className="brand-mark" aria-hidden>
          H
        </span>
        <strong>Hearth</strong>
      </div>
      <div className="card">
        <h1>Sign in</h1>
        <p className="subtitle" style={{ marginBottom: "1rem" }}>
          Your evaluations, policies and models, on your own machines.
        </p>
        {error ? (
          <div className="alert alert-error" role="alert">
            {error}
          </div>
        ) : null}
        <form className="stack" onSubmit={onSubmit}>
          <label className="field">
            Email
            <input name="email" type="email" autoComplete="email" required />
          </label>
          <label className="field">
            Password
            <input name="password" type="password" autoComplete="current-password" required />
          </label>
          <button className="btn btn-primary btn-block" type="submit" disabled={pending}>
            {pending ? "Signing in…" : "Sign in"}
          </button>
        </form>
        {ssoName ? (
          <>
            <div className="divider">or</div>
            <button className="btn btn-block" onClick={() => signIn("oidc", { callbackUrl })}>
              Sign in with {ssoName}
            </button>
          </>
        ) : null}
      </div>
      <p className="muted">
        New here? <Link href={`/signup?callbackUrl=${encodeURIComponent(callbackUrl)}`}>Create an account</Link>
      </p>
    </main>
  );
}

export function SignInForm({ ssoName }: { ssoName: string | null }) {
  return (
    <Suspense>
      <Form ssoName={ssoName} />
    </Suspense>
  );
}
