import { Principal } from './principal';

/** Turns a handshake or bearer token into a principal; `null` rejects it. */
export interface Authenticator {
  authenticate(token: string): Promise<Principal | null>;
}

export const Authenticator = Symbol('Authenticator');
