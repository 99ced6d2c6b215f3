// Signs in over HTTP exactly as the browser does (CSRF token, then the credentials callback).
export async function signInOverHttp(baseUrl: string, email: string, password: string): Promise<string> {
  const csrfResponse = await fetch(`${baseUrl}/api/auth/csrf`);
  const { csrfToken } = (await csrfResponse.json()) as { csrfToken: string };
  const csrfCookie = csrfResponse.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const response = await fetch(`${baseUrl}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie },
    body: new URLSearchParams({ csrfToken, email, password, json: "true" }),
  });
  const session = response.headers.getSetCookie().find((c) => c.includes("session-token="));
  if (!session) throw new Error(`Sign-in as ${email} failed (HTTP ${response.status})`);
  return session.split(";")[0];
}

/** Calls a tRPC procedure over HTTP the way an API client would (superjson-encoded input). */
export async function trpcHttp(
  baseUrl: string,
  kind: "query" | "mutation",
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const encoded = { json: input };
  const response =
    kind === "query"
      ? await fetch(`${baseUrl}/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify(encoded))}`, { headers })
      : await fetch(`${baseUrl}/api/trpc/${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(encoded) });
  return { status: response.status, body: await response.json() };
}

/** A tRPC call over HTTP that must succeed: its data, or an error naming the procedure, status and message. */
export async function trpcData(baseUrl: string, kind: "query" | "mutation", path: string, input: unknown, headers: Record<string, string> = {}): Promise<any> {
  const response = await trpcHttp(baseUrl, kind, path, input, headers);
  if (response.status !== 200) throw new Error(`${path} failed (${response.status}): ${JSON.stringify(response.body?.error?.json?.message)}`);
  return response.body.result.data.json;
}
