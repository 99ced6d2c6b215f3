export * from "./train";
export * from "./job";
