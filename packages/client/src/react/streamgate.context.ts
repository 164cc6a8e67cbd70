import {
  createContext,
  createElement,
  ReactNode,
  useContext,
  useMemo,
  type ReactElement,
} from 'react';
import type {
  StreamgateClient,
  StreamgateClientError,
} from '@streamgate/client';
import { StreamgateHooksError } from './react.errors';

// Any client: the hooks take their types from their own type parameters.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyStreamgateClient = StreamgateClient<any, any>;

interface StreamgateContextValue {
  readonly client: AnyStreamgateClient;
  readonly onError: (error: StreamgateClientError) => void;
}

const StreamgateContext = createContext<StreamgateContextValue | null>(null);
StreamgateContext.displayName = 'StreamgateContext';

export interface StreamgateProviderProps {
  /**
   * The client the hooks below use. The app creates it and calls
   * `connect()` (and `close()`); the provider and its hooks never open a
   * connection of their own.
   */
  readonly client: AnyStreamgateClient;
  /**
   * Failures the hooks cannot return to a component: an unsubscribe
   * refused after unmount. Subscribe and presence failures are in the
   * hooks' results, and the client's own errors go to `client.onError`.
   * @default console.error
   */
  readonly onError?: (error: StreamgateClientError) => void;
  readonly children?: ReactNode;
}

/** Hands a `StreamgateClient` to the hooks of the components below it. */
export function StreamgateProvider({
  client,
  onError = logError,
  children,
}: StreamgateProviderProps): ReactElement {
  const value = useMemo(() => ({ client, onError }), [client, onError]);
  return createElement(StreamgateContext.Provider, { value }, children);
}

function logError(error: StreamgateClientError): void {
  globalThis.console?.error('[streamgate]', error);
}

/** The nearest provider's client and error sink; throws outside one. */
export function useStreamgateContext(): StreamgateContextValue {
  const value = useContext(StreamgateContext);
  if (value === null) throw new StreamgateHooksError();
  return value;
}

/** The client of the nearest `StreamgateProvider`; throws outside one. */
export function useStreamgateClient<
  TClient extends AnyStreamgateClient = StreamgateClient,
>(): TClient {
  return useStreamgateContext().client as TClient;
}
