import { Inject, Injectable, Logger } from '@nestjs/common';
import { EventId, EventPublisher, NewEvent } from '@streamgate/server';
import { ActivityEvents } from './activity.events';
import { ActivityMessages } from './activity.messages';
import {
  AgentActivityPayload,
  AgentHealthPayload,
  CollaborationPayload,
  HealthAlertPayload,
} from './activity.types';

/**
 * What agents and the platform report, published on the event bus with the
 * scopes that decide who sees it. Every method checks its input first and
 * rejects with `InvalidActivityError` (naming the field) before anything is
 * published; a failed publish is logged and the error reaches the caller.
 * Each resolves with the id of the published event.
 */
@Injectable()
export class ActivityService {
  private readonly logger = new Logger(ActivityService.name);

  constructor(
    @Inject(EventPublisher) private readonly publisher: EventPublisher,
  ) {}

  /** `agent_activity`, visible to holders of `agent:<agent>`. */
  async agentActivity(
    agent: string,
    payload: AgentActivityPayload,
  ): Promise<EventId> {
    return this.publish(ActivityEvents.agentActivity(agent, payload));
  }

  /** `agent_collaboration`, visible to holders of both `agent:<agentA>` and `agent:<agentB>`. */
  async collaboration(
    agentA: string,
    agentB: string,
    payload: CollaborationPayload,
  ): Promise<EventId> {
    return this.publish(ActivityEvents.collaboration(agentA, agentB, payload));
  }

  /** `agent_health_changed`, visible to holders of `agent:<agent>`. */
  async agentHealthChanged(
    agent: string,
    payload: AgentHealthPayload,
  ): Promise<EventId> {
    return this.publish(ActivityEvents.agentHealthChanged(agent, payload));
  }

  /** `health_alert`, visible to operators (`role:operator`). */
  async healthAlert(payload: HealthAlertPayload): Promise<EventId> {
    return this.publish(ActivityEvents.healthAlert(payload));
  }

  private async publish(event: NewEvent): Promise<EventId> {
    try {
      return await this.publisher.publish(event);
    } catch (error) {
      this.logger.error(
        ActivityMessages.publishFailed(event, error),
        (error as Error)?.stack,
      );
      throw error;
    }
  }
}
