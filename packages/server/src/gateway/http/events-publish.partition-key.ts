import { describeValue } from '@streamgate/protocol';
import { InvalidEventError } from '../../event-bus/domain/event';

/** The longest partition key the layout accepts (`PartitionLayout.partitionOf`). */
export const MAX_PARTITION_KEY_LENGTH = 256;

function keyOf(event: unknown, field: string): string | undefined {
  if (event === null || typeof event !== 'object') return undefined;
  const key = (event as { partitionKey?: unknown }).partitionKey;
  if (key === undefined) return undefined;
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    key.length > MAX_PARTITION_KEY_LENGTH
  )
    throw new InvalidEventError(
      `${field} must be a string of 1 to ${MAX_PARTITION_KEY_LENGTH} characters (got ${describeValue(key)}).`,
      field,
    );
  return key;
}

/**
 * The `partitionKey` of a `POST /events` body: the event's, or the batch's.
 *
 * A batch takes one key (`publishMany` is atomic within one partition, so
 * one key for all is the only one that can hold): every event that names
 * one names the same, else 400 naming the first that differs. Whether the
 * key suits the events' scopes is the layout's to decide, on publish
 * (`InvalidPartitionKeyError`). Ephemeral events are not written to any
 * partition, so a key on one is refused rather than ignored.
 */
export function partitionKeyOfBody(
  body: unknown,
  ephemeral: boolean,
): string | undefined {
  let key: string | undefined;
  let field = 'partitionKey';
  if (Array.isArray(body)) {
    for (let i = 0; i < body.length; i++) {
      const own = keyOf(body[i], `[${i}].partitionKey`);
      if (own === undefined) continue;
      if (key === undefined) {
        key = own;
        field = `[${i}].partitionKey`;
      } else if (own !== key)
        throw new InvalidEventError(
          `[${i}].partitionKey differs from ${field}: a batch is written to one partition, atomically, so it takes one partition key. Publish one batch per key.`,
          `[${i}].partitionKey`,
        );
    }
  } else key = keyOf(body, field);
  if (key !== undefined && ephemeral)
    throw new InvalidEventError(
      `${field} applies to events written to the log; ephemeral events belong to no partition. Leave it out.`,
      field,
    );
  return key;
}
