// Agreement between reviewers, chance-corrected: Cohen's kappa for two reviewers who labelled the same
// items, Fleiss' kappa for a fixed number of reviewers per item (any reviewers). Written to match
// scikit-learn's cohen_kappa_score and statsmodels' fleiss_kappa (method "fleiss"); the tests hold them to it.

/** Cohen's kappa of two label sequences over the same items; null when chance agreement is total (kappa undefined). */
export function cohenKappa(a: readonly string[], b: readonly string[]): number | null {
  if (a.length !== b.length) throw new Error("cohenKappa: the two reviewers must label the same items");
  const n = a.length;
  if (n === 0) return null;
  const countA = new Map<string, number>();
  const countB = new Map<string, number>();
  let agreed = 0;
  for (let i = 0; i < n; i++) {
    countA.set(a[i], (countA.get(a[i]) ?? 0) + 1);
    countB.set(b[i], (countB.get(b[i]) ?? 0) + 1);
    if (a[i] === b[i]) agreed++;
  }
  let expected = 0;
  for (const [label, count] of countA) expected += (count / n) * ((countB.get(label) ?? 0) / n);
  const observed = agreed / n;
  if (1 - expected === 0) return null;
  return (observed - expected) / (1 - expected);
}

/**
 * Fleiss' kappa of an items x categories table of counts, each row summing to the same number of
 * reviewers (at least two); null when it is undefined (one category only).
 */
export function fleissKappa(table: readonly (readonly number[])[]): number | null {
  if (table.length === 0) return null;
  const raters = table[0].reduce((s, v) => s + v, 0);
  if (raters < 2) return null;
  for (const row of table) if (row.reduce((s, v) => s + v, 0) !== raters) throw new Error("fleissKappa: every item needs the same number of reviewers");
  const categories = table[0].length;
  const total = table.length * raters;
  let expected = 0;
  for (let j = 0; j < categories; j++) {
    const p = table.reduce((s, row) => s + row[j], 0) / total;
    expected += p * p;
  }
  const observed = table.reduce((s, row) => s + (row.reduce((q, v) => q + v * v, 0) - raters) / (raters * (raters - 1)), 0) / table.length;
  if (1 - expected === 0) return null;
  return (observed - expected) / (1 - expected);
}

export interface LabelledValue {
  itemId: string;
  reviewerId: string;
  value: string;
}

export interface Agreement {
  method: "cohen" | "fleiss" | null;
  kappa: number | null;
  /** Items counted (every needed reviewer labelled them). */
  items: number;
  reviewers: number;
  /** Items whose reviewers gave different values. */
  disagreements: string[];
}

/**
 * Agreement on one dimension of a queue's labels. Items with fewer than `perItem` values are left out.
 * Two reviewers across all counted items: Cohen's kappa; otherwise Fleiss' kappa (each item's
 * `perItem` values, whoever gave them).
 */
export function agreementOf(values: readonly LabelledValue[], perItem: number): Agreement {
  const byItem = new Map<string, LabelledValue[]>();
  for (const v of values) byItem.set(v.itemId, [...(byItem.get(v.itemId) ?? []), v]);
  const complete = [...byItem.entries()].filter(([, labels]) => labels.length >= perItem && labels.length >= 2).map(([itemId, labels]) => ({ itemId, labels: labels.slice(0, perItem) }));
  const reviewers = new Set(complete.flatMap((c) => c.labels.map((l) => l.reviewerId)));
  const disagreements = complete.filter((c) => new Set(c.labels.map((l) => l.value)).size > 1).map((c) => c.itemId);
  if (complete.length === 0 || perItem < 2) return { method: null, kappa: null, items: complete.length, reviewers: reviewers.size, disagreements };
  if (reviewers.size === 2) {
    const [first, second] = [...reviewers].sort();
    const a = complete.map((c) => c.labels.find((l) => l.reviewerId === first)!.value);
    const b = complete.map((c) => c.labels.find((l) => l.reviewerId === second)!.value);
    return { method: "cohen", kappa: cohenKappa(a, b), items: complete.length, reviewers: 2, disagreements };
  }
  const categories = [...new Set(complete.flatMap((c) => c.labels.map((l) => l.value)))].sort();
  const table = complete.map((c) => categories.map((category) => c.labels.filter((l) => l.value === category).length));
  return { method: "fleiss", kappa: fleissKappa(table), items: complete.length, reviewers: reviewers.size, disagreements };
}
