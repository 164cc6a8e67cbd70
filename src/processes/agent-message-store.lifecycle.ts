import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { AgentMessageStore } from './domain/agent-message-store.port';

/** Closes the store's connections after the HTTP server stopped using it. */
@Injectable()
export class AgentMessageStoreLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(AgentMessageStore) private readonly store: AgentMessageStore,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
