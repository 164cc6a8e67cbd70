import { StreamgateClientError } from '@streamgate/client';

/** A hook of `@streamgate/client/react` was used outside a `StreamgateProvider`. */
export class StreamgateHooksError extends StreamgateClientError {
  constructor() {
    super(
      'A streamgate hook was used outside a <StreamgateProvider client={...}>. Wrap the component tree in one, with the client the hooks should use.',
    );
  }
}
