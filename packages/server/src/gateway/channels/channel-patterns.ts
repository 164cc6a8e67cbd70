/**
 * Matches channels against option patterns: exact names, or prefixes ending
 * in `*` (`room:*`; a lone `*` matches every channel).
 */
export class ChannelPatterns {
  private readonly exact: ReadonlySet<string>;
  private readonly prefixes: readonly string[];

  constructor(patterns: readonly string[]) {
    this.exact = new Set(patterns.filter((p) => !p.endsWith('*')));
    this.prefixes = patterns
      .filter((p) => p.endsWith('*'))
      .map((p) => p.slice(0, -1));
  }

  get empty(): boolean {
    return this.exact.size === 0 && this.prefixes.length === 0;
  }

  matches(channel: string): boolean {
    if (this.exact.has(channel)) return true;
    for (const prefix of this.prefixes)
      if (channel.startsWith(prefix)) return true;
    return false;
  }
}
