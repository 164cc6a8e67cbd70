/**
 * Whether `channel` matches one of `patterns`: exact names, or prefixes
 * ending in `*` (`room:*` matches `room:7`; `*` alone matches every channel).
 */
export function matchesChannelPattern(
  patterns: readonly string[],
  channel: string,
): boolean {
  for (const pattern of patterns) {
    if (pattern.endsWith('*')) {
      if (channel.startsWith(pattern.slice(0, -1))) return true;
    } else if (pattern === channel) return true;
  }
  return false;
}
