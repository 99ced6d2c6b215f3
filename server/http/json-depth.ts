// Input nested deeper than any real request is refused before it is parsed: JSON.parse copes, but
// the code after it (zod, superjson, Prisma's and JSON.stringify's serializers) recurses and runs out
// of stack, which surfaced as a 500. One linear scan of the text, strings skipped.

/** Nesting no legitimate request comes near (suite cases, dashboards and configs are a few levels deep). */
export const MAX_JSON_DEPTH = 256;

/** Whether the JSON text nests objects/arrays deeper than `max`. */
export function jsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

export const TOO_DEEP_MESSAGE = `The input is nested deeper than ${MAX_JSON_DEPTH} levels.`;
