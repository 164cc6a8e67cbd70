/*
 * The entry of `@streamgate/client/browser`, the one-script build: its
 * global `StreamgateClient` is the class itself, so that
 * `new StreamgateClient({...})` works as in a bundled app, and the rest of
 * the API hangs off it as static properties
 * (`StreamgateClient.ProcessStreamReader`,
 * `StreamgateClient.sessionStorageCursorStore`, ...).
 */
import * as api from './index';

const { StreamgateClient, ...rest } = api;

export default Object.assign(StreamgateClient, rest);
