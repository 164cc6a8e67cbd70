import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ProcessMessageStore } from './domain/process-message-store.port';

/** Closes the store's connections after the HTTP server stopped using it. */
@Injectable()
export class ProcessMessageStoreLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(ProcessMessageStore) private readonly store: ProcessMessageStore,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
