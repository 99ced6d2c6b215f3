import { CASE_ID_PATTERN } from "../case";

/** A case id from free text ("Refund window, 30 days" -> "refund-window-30-days"), or the fallback. */
export function slugify(text: string | undefined, fallback: string): string {
  const slug = (text ?? "")
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9._:-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 80)
    .replace(/-+$/, "");
  return slug && CASE_ID_PATTERN.test(slug) ? slug : fallback;
}

/** Makes ids unique in order of arrival: a repeated "x" becomes "x-2", "x-3"... */
export function uniqueIds(): (id: string) => string {
  const used = new Set<string>();
  return (id) => {
    let candidate = id;
    for (let n = 2; used.has(candidate); n++) candidate = `${id}-${n}`;
    used.add(candidate);
    return candidate;
  };
}
