// The node's side of the node API: authenticated HTTP calls with the errors a node acts on.
// Refused credentials stop the node; a lost lease stops the job; anything else (the server is
// restarting, the network is gone) is retried with backoff by the caller.

export class TokenRefused extends Error {
  override name = "TokenRefused";
}

/** The server says this node no longer holds the job (409): stop working on it. */
export class LeaseLost extends Error {
  override name = "LeaseLost";
}

/** The server says the job was cancelled (412): stop working on it and free it. */
export class JobCancelled extends Error {
  override name = "JobCancelled";
}

/** The server refused the request as invalid (4xx other than 401/409): retrying will not help. */
export class RequestRefused extends Error {
  override name = "RequestRefused";
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** The server could not be reached or failed (network error, 5xx): try again later. */
export class ServerUnavailable extends Error {
  override name = "ServerUnavailable";
}

export interface RequestOptions {
  json?: unknown;
  body?: Uint8Array;
  signal?: AbortSignal;
}

export class NodeApiClient {
  nodeId: string | null = null;

  constructor(
    readonly serverUrl: string,
    private readonly token: string,
  ) {}

  headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...(this.nodeId ? { "x-hearth-node": this.nodeId } : {}) };
  }

  private async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = this.headers();
    let body: BodyInit | undefined;
    if (options.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.json);
    } else if (options.body) {
      headers["content-type"] = "application/octet-stream";
      body = options.body as unknown as BodyInit;
    }
    let response: Response;
    try {
      response = await fetch(`${this.serverUrl}/api/node/${path}`, { method, headers, body, signal: options.signal ?? AbortSignal.timeout(120_000) });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ServerUnavailable(`cannot reach ${this.serverUrl}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    if (response.ok) return response;
    const message = await response
      .json()
      .then((b: { error?: { message?: string } }) => b.error?.message ?? `HTTP ${response.status}`)
      .catch(() => `HTTP ${response.status}`);
    if (response.status === 401) throw new TokenRefused(message);
    if (response.status === 409) throw new LeaseLost(message);
    if (response.status === 412) throw new JobCancelled(message);
    if (response.status >= 500 || response.status === 429) throw new ServerUnavailable(`${this.serverUrl} answered ${response.status}: ${message}`);
    throw new RequestRefused(message, response.status);
  }

  async call<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return (await (await this.send(method, path, options)).json()) as T;
  }

  async bytes(path: string): Promise<Uint8Array> {
    const response = await this.send("GET", path);
    try {
      return new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      throw new ServerUnavailable(`the download of ${path} broke off: ${(error as Error).message}`);
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Retries `fn` while the server is unavailable, with exponential backoff (0.5 s doubling to 10 s,
 * with jitter), until it succeeds, throws anything else, or `stopped()` says to give up.
 */
export async function withRetry<T>(fn: () => Promise<T>, o: { stopped?: () => boolean; onRetry?: (error: Error, delayMs: number) => void } = {}): Promise<T> {
  let delay = 500;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if (!(error instanceof ServerUnavailable) || o.stopped?.()) throw error;
      const wait = delay * (0.75 + Math.random() * 0.5);
      o.onRetry?.(error, wait);
      await sleep(wait);
      delay = Math.min(delay * 2, 10_000);
    }
  }
}
