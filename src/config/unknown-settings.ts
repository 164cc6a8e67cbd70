/** Prefixes of the variables the app reads; any other variable with one of them is a likely typo or a setting of another version. */
export const CHECKED_PREFIXES = ['EVENT_', 'REDIS_', 'SSE_', 'AUTH_'] as const;

/** Levenshtein distance between two names (insertions, deletions, substitutions). */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/** The known name closest to `name`; ties go to the first in `known`. */
export function nearestName(name: string, known: readonly string[]): string {
  let best = known[0];
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * One warning for every set variable with a checked prefix that the app does
 * not read, naming the nearest one it does: a misspelt `EVENT_PARTITONS=16`
 * would otherwise be ignored without a word.
 */
export function unknownSettingWarnings(
  env: Record<string, string | undefined>,
  known: readonly string[],
): string[] {
  const knownSet = new Set(known);
  return Object.keys(env)
    .filter(
      (name) =>
        env[name] !== undefined &&
        CHECKED_PREFIXES.some((prefix) => name.startsWith(prefix)) &&
        !knownSet.has(name),
    )
    .sort()
    .map(
      (name) =>
        `${name} is set but is not a setting of this app, so it is ignored; did you mean ${nearestName(name, known)}? (Check the spelling, or whether this version has that setting.)`,
    );
}
