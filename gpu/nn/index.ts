export * from "./config";
export * from "./gpt";
export * from "./generate";
export * from "./reference";
export * from "./lora";
export * from "./kv-cache";
export * from "./hf-config";
export * from "./decoder";
