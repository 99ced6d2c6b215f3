import type { EvalCase } from "@/gpu/eval/case";
import { toHearthJsonl } from "@/gpu/eval/formats/hearth-jsonl";
import { toInspectJsonl } from "@/gpu/eval/formats/inspect";
import { toPromptfooYaml } from "@/gpu/eval/formats/promptfoo-export";

export const SUITE_EXPORT_FORMATS = ["hearth-jsonl", "promptfoo-yaml", "inspect-jsonl"] as const;
export type SuiteExportFormat = (typeof SUITE_EXPORT_FORMATS)[number];

/** A suite version as a file another tool reads; what it cannot express travels under metadata.hearth. */
export function exportSuiteCases(cases: readonly EvalCase[], format: SuiteExportFormat, basename: string, title: string) {
  switch (format) {
    case "hearth-jsonl":
      return { filename: `${basename}.jsonl`, content: toHearthJsonl(cases) };
    case "promptfoo-yaml":
      return { filename: `${basename}.promptfooconfig.yaml`, content: toPromptfooYaml(cases, title) };
    case "inspect-jsonl":
      return { filename: `${basename}.inspect.jsonl`, content: toInspectJsonl(cases) };
  }
}
