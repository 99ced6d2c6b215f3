export * from "./bpe";
