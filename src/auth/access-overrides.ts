import { Injectable } from '@nestjs/common';

/**
 * Permission changes that take effect before tokens expire: replace a user's
 * scopes or revoke them entirely. A real app keeps these in its database.
 */
@Injectable()
export class AccessOverrides {
  private readonly overrides = new Map<string, readonly string[] | null>();

  set(userId: string, scopes: readonly string[] | null): void {
    this.overrides.set(userId, scopes);
  }

  clear(userId: string): void {
    this.overrides.delete(userId);
  }

  get(userId: string): readonly string[] | null | undefined {
    return this.overrides.get(userId);
  }
}
