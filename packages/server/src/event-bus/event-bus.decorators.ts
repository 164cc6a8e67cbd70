import { Inject } from '@nestjs/common';
import { EventPublisher } from './domain/event-publisher.port';
import { EventSubscription } from './domain/event-subscription.port';

/** Injects the `EventPublisher` port (distinct from @nestjs/cqrs's class of the same name). */
export const InjectEventPublisher = () => Inject(EventPublisher);
/** Injects the `EventSubscription` port. */
export const InjectEventSubscription = () => Inject(EventSubscription);
