import {
  InvalidEventError,
  NewEvent,
  validateNewEvent,
} from '@streamgate/server';
import { InvalidActivityError } from './activity.errors';
import {
  ACTION_PATTERN,
  AGENT_HEALTH_STATES,
  ALERT_CODE_PATTERN,
  ALERT_LEVELS,
  ActivityEventType,
  AgentActivityData,
  AgentActivityPayload,
  AgentHealthData,
  AgentHealthPayload,
  COLLABORATION_KINDS,
  CollaborationData,
  CollaborationPayload,
  HealthAlertData,
  HealthAlertPayload,
  OPERATOR_SCOPE,
  ProcessStatusData,
  ProcessStatusPayload,
  agentScope,
  processScopeOf,
} from './activity.types';
import {
  assertAgentName,
  assertOneOf,
  assertPattern,
  assertPayloadObject,
  assertPlainObject,
  assertProcessIdField,
  assertProcessStatusField,
  assertText,
} from './activity.validation';

/**
 * Turns activities into events: checks them, keeps only the known fields,
 * and names the scopes. `ActivityService` publishes what these return; the
 * demo script posts them to `POST /events`, so both send the same events.
 */
export const ActivityEvents = {
  agentActivity(agent: string, payload: AgentActivityPayload): NewEvent {
    const name = assertAgentName(agent, 'agent');
    const p = assertPayloadObject(payload, '"action" and "summary"');
    const data: AgentActivityData = {
      agent: name,
      action: assertPattern(p.action, ACTION_PATTERN, 'payload.action'),
      summary: assertText(p.summary, 'payload.summary'),
      ...optional('processId', p.processId, (v) =>
        assertProcessIdField(v, 'payload.processId'),
      ),
      ...optional('details', p.details, (v) =>
        assertPlainObject(v, 'payload.details'),
      ),
    };
    return checked({
      type: ActivityEventType.agentActivity,
      data,
      scopes: [agentScope(name)],
    });
  },

  collaboration(
    agentA: string,
    agentB: string,
    payload: CollaborationPayload,
  ): NewEvent {
    const a = assertAgentName(agentA, 'agentA');
    const b = assertAgentName(agentB, 'agentB');
    if (a === b) {
      throw new InvalidActivityError(
        `agentB must differ from agentA; a collaboration needs two agents (got "${a}" twice).`,
        'agentB',
      );
    }
    const p = assertPayloadObject(payload, '"kind" and "summary"');
    const data: CollaborationData = {
      agents: [a, b],
      kind: assertOneOf(p.kind, COLLABORATION_KINDS, 'payload.kind'),
      summary: assertText(p.summary, 'payload.summary'),
      ...optional('processId', p.processId, (v) =>
        assertProcessIdField(v, 'payload.processId'),
      ),
    };
    return checked({
      type: ActivityEventType.collaboration,
      data,
      scopes: [agentScope(a), agentScope(b)],
    });
  },

  agentHealthChanged(agent: string, payload: AgentHealthPayload): NewEvent {
    const name = assertAgentName(agent, 'agent');
    const p = assertPayloadObject(payload, '"status"');
    const data: AgentHealthData = {
      agent: name,
      status: assertOneOf(p.status, AGENT_HEALTH_STATES, 'payload.status'),
      ...optional('previous', p.previous, (v) =>
        assertOneOf(v, AGENT_HEALTH_STATES, 'payload.previous'),
      ),
      ...optional('reason', p.reason, (v) => assertText(v, 'payload.reason')),
    };
    return checked({
      type: ActivityEventType.agentHealthChanged,
      data,
      scopes: [agentScope(name)],
    });
  },

  healthAlert(payload: HealthAlertPayload): NewEvent {
    const p = assertPayloadObject(payload, '"level" and "message"');
    const data: HealthAlertData = {
      level: assertOneOf(p.level, ALERT_LEVELS, 'payload.level'),
      message: assertText(p.message, 'payload.message'),
      ...optional('code', p.code, (v) =>
        assertPattern(v, ALERT_CODE_PATTERN, 'payload.code'),
      ),
      ...optional('agent', p.agent, (v) => assertAgentName(v, 'payload.agent')),
    };
    return checked({
      type: ActivityEventType.healthAlert,
      data,
      scopes: [OPERATOR_SCOPE],
    });
  },

  processStatus(processId: string, payload: ProcessStatusPayload): NewEvent {
    const id = assertProcessIdField(processId, 'processId');
    const p = assertPayloadObject(payload, '"status"');
    const data: ProcessStatusData = {
      processId: id,
      status: assertProcessStatusField(p.status, 'payload.status'),
      // The processes module's readers require `previous` to be present (null when unknown).
      previous:
        p.previous === undefined || p.previous === null
          ? null
          : assertProcessStatusField(p.previous, 'payload.previous'),
    };
    return checked({
      type: ActivityEventType.processStatus,
      data,
      scopes: [processScopeOf(id)],
    });
  },
};

function optional<K extends string, T>(
  key: K,
  value: unknown,
  check: (value: unknown) => T,
): { [P in K]?: T } {
  if (value === undefined || value === null) return {};
  return { [key]: check(value) } as { [P in K]?: T };
}

/**
 * Free-form parts (`details`) can still hold what JSON cannot carry; the
 * domain's own check finds it, and the error is restated in activity terms so
 * that callers catch one error type.
 */
function checked(event: NewEvent): NewEvent {
  try {
    validateNewEvent(event);
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    const field = error.field.replace(/^data\./, 'payload.');
    throw new InvalidActivityError(
      error.message.replace(error.field, field),
      field,
    );
  }
  return event;
}
