// A model version that is a Hugging Face folder: what the server records of it (in the version's
// config) and the model page shows.

export interface FolderDescription {
  format: "hf-folder";
  modelType: string;
  architecture: string | null;
  parameters: number;
  /** The weights' dtypes as stored (F32, F16, BF16), most common first. */
  dtype: string;
  contextLength: number;
  license: string | null;
  vocabSize: number;
  hasChatTemplate: boolean;
  weightBytes: number;
  /** Whether a browser's adapter can hold it; if not it runs on GPU nodes only. */
  browser: boolean;
}

export function isFolderDescription(config: unknown): config is FolderDescription {
  return !!config && typeof config === "object" && (config as { format?: unknown }).format === "hf-folder";
}
