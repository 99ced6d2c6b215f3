export * from "./safetensors";
export * from "./checkpoint";
