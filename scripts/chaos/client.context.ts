import { SeededRandom } from './seeded.random';
import { TokenSigner } from './token.signer';

/** What every soak client shares: where the nodes are, how to sign, the clock. */
export interface ClientContext {
  readonly signer: TokenSigner;
  readonly nodeCount: number;
  url(node: number): string;
  /** Whether the harness believes the node is up; clients mostly pick live nodes. */
  isUp(node: number): boolean;
  /** Milliseconds since the run started. */
  now(): number;
  /** Returns the one shared copy of an id string, so that receipts cost a pointer each. */
  intern(id: string): string;
  /** Whether the server acknowledges an in-band `refresh`. */
  readonly refreshSupported: boolean;
  /** Whether the server accepts `auth.channels` (its `ready` names the set); else channel clients speak v1. */
  readonly channelsSupported: boolean;
  /** A deliberate recorder defect, to prove the checker reports it (`--defect`). */
  readonly defect: ReadonlySet<string>;
}

/** A node to (re)connect to: a live one mostly, any one sometimes, as behind a careless balancer. */
export function pickNode(context: ClientContext, random: SeededRandom): number {
  const all = Array.from({ length: context.nodeCount }, (_, i) => i);
  const up = all.filter((node) => context.isUp(node));
  if (up.length === 0 || random.chance(0.1)) return random.pick(all);
  return random.pick(up);
}
