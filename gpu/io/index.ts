export * from "./safetensors";
export * from "./checkpoint";
export * from "./hf-folder";
export * from "./tar";
