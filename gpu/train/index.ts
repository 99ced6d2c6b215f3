export * from "./train";
