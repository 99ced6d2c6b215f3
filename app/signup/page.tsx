"use client";
import Link from "next/link";
import { signIn } from "next-auth/react";
import { useSearchParams } from "next/navigation";
import { Suspense, type FormEvent } from "react";
import { useMutation } from "@tanstack/react-query";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError } from "@/app/_components/ui";
import { safeCallbackPath } from "@/contracts/redirect";

function SignUpForm() {
  const trpc = useTRPC();
  const params = useSearchParams();
  const callbackUrl = safeCallbackPath(params.get("callbackUrl"));
  const signUp = useMutation(trpc.user.signUp.mutationOptions());

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const input = { name: String(form.get("name")), email: String(form.get("email")), password: String(form.get("password")) };
    try {
      await signUp.mutateAsync(input);
    } catch {
      return; // shown by <ErrorAlert> and the field messages
    }
    const result = await signIn("credentials", { email: input.email, password: input.password, redirect: false });
    if (result?.ok) window.location.assign(callbackUrl);
  }

  return (
    <main className="page-narrow">
      <div className="card">
        <h1>Create your account</h1>
        <p className="subtitle" style={{ marginBottom: "1rem" }}>
          Then create an organization, or accept an invitation.
        </p>
        <ErrorAlert error={signUp.error} />
        <form className="stack" onSubmit={onSubmit}>
          <label className="field">
            Name
            <input name="name" autoComplete="name" required maxLength={80} />
            <span className="field-error">{fieldError(signUp.error, "name")}</span>
          </label>
          <label className="field">
            Email
            <input name="email" type="email" autoComplete="email" required />
            <span className="field-error">{fieldError(signUp.error, "email")}</span>
          </label>
          <label className="field">
            Password
            <input name="password" type="password" autoComplete="new-password" required minLength={10} />
            <span className="hint">At least 10 characters.</span>
            <span className="field-error">{fieldError(signUp.error, "password")}</span>
          </label>
          <button className="btn btn-primary btn-block" type="submit" disabled={signUp.isPending}>
            {signUp.isPending ? "Creating…" : "Create account"}
          </button>
        </form>
      </div>
      <p className="muted">
        Already have an account? <Link href={`/signin?callbackUrl=${encodeURIComponent(callbackUrl)}`}>Sign in</Link>
      </p>
    </main>
  );
}

export default function SignUpPage() {
  return (
    <Suspense>
      <SignUpForm />
    </Suspense>
  );
}
