import { describe, expect, it } from "vitest";
import { oracleOrSkip, runOracle } from "../support/oracle";

describe.skipIf(!oracleOrSkip())("the oracle environment", () => {
  it("holds the pinned Hugging Face libraries", () => {
    const v = JSON.parse(runOracle("versions.py").stdout);
    expect(v).toMatchObject({ transformers: "5.18.0", tokenizers: "0.23.2", peft: "0.21.0", trl: "1.13.0", safetensors: "0.8.0" });
    expect(v.torch).toMatch(/^2\.13\.0/);
  });

  it("also offers transformers 4.57 for fixtures in the older config style", () => {
    const v = JSON.parse(runOracle("versions.py", ["--transformers4"], { transformers4: true }).stdout);
    expect(v).toMatchObject({ transformers: "4.57.6", tokenizers: "0.22.2" });
  });
});
