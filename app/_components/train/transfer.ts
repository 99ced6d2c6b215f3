// Moving bytes between the browser and Hearth: dataset versions and model checkpoints down,
// finished checkpoints up (POST /api/models/<id>/versions, lineage in the query).

async function errorFrom(response: Response, what: string): Promise<Error> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    if (body.error?.message) return new Error(`${what}: ${body.error.message}`);
  } catch {
    // not JSON: fall through to the status
  }
  return new Error(`${what} failed (HTTP ${response.status}).`);
}

/** GETs a file as bytes (same-origin, with the session cookie). */
export async function fetchBytes(url: string, what: string): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url, { credentials: "same-origin" });
  } catch {
    throw new Error(`${what}: the download was interrupted. Check the connection and try again.`);
  }
  if (!response.ok) throw await errorFrom(response, what);
  return new Uint8Array(await response.arrayBuffer());
}

export const datasetVersionUrl = (datasetVersionId: string) => `/api/dataset-versions/${encodeURIComponent(datasetVersionId)}/content`;
export const modelArtifactUrl = (modelVersionId: string) => `/api/model-versions/${encodeURIComponent(modelVersionId)}/artifact`;

export interface UploadedModelVersion {
  id: string;
  modelId: string;
  version: number;
  artifactSha256: string | null;
  sizeBytes: number | null;
}

/** Uploads a finished checkpoint as a model version with its lineage; idempotent per run. */
export function uploadModelVersion(
  modelId: string,
  artifact: Uint8Array,
  lineage: { runId?: string; datasetVersionId?: string; parentVersionId?: string },
  onProgress?: (fraction: number) => void,
): Promise<UploadedModelVersion> {
  const query = new URLSearchParams(Object.entries(lineage).filter((e): e is [string, string] => typeof e[1] === "string"));
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `/api/models/${encodeURIComponent(modelId)}/versions?${query}`);
    request.setRequestHeader("content-type", "application/octet-stream");
    request.upload.onprogress = (event) => event.lengthComputable && onProgress?.(event.loaded / event.total);
    request.onload = () => {
      let body: { error?: { message?: string } } & Partial<UploadedModelVersion> = {};
      try {
        body = JSON.parse(request.responseText);
      } catch {
        // keep the empty body
      }
      if (request.status === 200 || request.status === 201) return resolve(body as UploadedModelVersion);
      reject(new Error(`Uploading the model: ${body.error?.message ?? `HTTP ${request.status}`}`));
    };
    request.onerror = () => reject(new Error("Uploading the model: the connection was interrupted; it will be retried."));
    request.send(artifact as Uint8Array<ArrayBuffer>);
  });
}
