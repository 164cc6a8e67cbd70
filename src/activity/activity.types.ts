import type { ProcessStatus } from '@streamgate/server';

/**
 * Event types `ActivityService` publishes. Dashboards and other subscribers
 * match on them: never rename.
 */
export const ActivityEventType = {
  agentActivity: 'agent_activity',
  collaboration: 'agent_collaboration',
  agentHealthChanged: 'agent_health_changed',
  healthAlert: 'health_alert',
  processStatus: 'process_status',
} as const;

export type ActivityEventTypeName =
  (typeof ActivityEventType)[keyof typeof ActivityEventType];

/** Lower-case letters, digits, `_` and `-`; it becomes part of the scope `agent:<name>`. */
export const AGENT_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** What an agent did, e.g. `tool_call` or `tests.run`. */
export const ACTION_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
/** Machine-readable alert code, e.g. `queue_backlog`. */
export const ALERT_CODE_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
/** Longest summary, reason or alert message, in characters. */
export const MAX_TEXT_LENGTH = 1000;

export const AGENT_HEALTH_STATES = ['healthy', 'degraded', 'down'] as const;
export type AgentHealth = (typeof AGENT_HEALTH_STATES)[number];

export const ALERT_LEVELS = ['info', 'warning', 'critical'] as const;
export type AlertLevel = (typeof ALERT_LEVELS)[number];

export const COLLABORATION_KINDS = [
  'handoff',
  'review_request',
  'question',
  'answer',
  'pairing',
] as const;
export type CollaborationKind = (typeof COLLABORATION_KINDS)[number];

/** Who sees health alerts: holders of this scope (or `*`). */
export const OPERATOR_SCOPE = 'role:operator';

/** The scope that lets a principal see one agent's events. */
export function agentScope(agent: string): string {
  return `agent:${agent}`;
}

/** The scope that lets a principal see one process's events (shared with the processes module). */
export function processScopeOf(processId: string): string {
  return `process:${processId}`;
}

export interface AgentActivityPayload {
  /** What the agent did, matching {@link ACTION_PATTERN}: `tool_call`, `file_edit`, `tests.run`, ... */
  readonly action: string;
  /** One line for people, 1 to {@link MAX_TEXT_LENGTH} characters. */
  readonly summary: string;
  /** The process (run) the work belongs to. */
  readonly processId?: string;
  /** Anything else worth showing: a plain JSON object. */
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface CollaborationPayload {
  readonly kind: CollaborationKind;
  /** One line for people, 1 to {@link MAX_TEXT_LENGTH} characters. */
  readonly summary: string;
  /** The process (run) the collaboration belongs to. */
  readonly processId?: string;
}

export interface AgentHealthPayload {
  readonly status: AgentHealth;
  /** The state before this change, when known. */
  readonly previous?: AgentHealth;
  /** Why, for people: `rate limited by the model provider`. */
  readonly reason?: string;
}

export interface HealthAlertPayload {
  readonly level: AlertLevel;
  /** What an operator should know, 1 to {@link MAX_TEXT_LENGTH} characters. */
  readonly message: string;
  /** Stable id to group alerts by, matching {@link ALERT_CODE_PATTERN}. */
  readonly code?: string;
  /** The agent the alert is about, if any. */
  readonly agent?: string;
}

export interface ProcessStatusPayload {
  readonly status: ProcessStatus;
  /** The status before this change; `null` (the default) when unknown or first. */
  readonly previous?: ProcessStatus | null;
}

/** `data` of an `agent_activity` event. */
export interface AgentActivityData extends AgentActivityPayload {
  readonly agent: string;
}

/** `data` of an `agent_collaboration` event. */
export interface CollaborationData extends CollaborationPayload {
  /** The agent that started the collaboration first, its partner second. */
  readonly agents: readonly [string, string];
}

/** `data` of an `agent_health_changed` event. */
export interface AgentHealthData extends AgentHealthPayload {
  readonly agent: string;
}

/** `data` of a `health_alert` event. */
export type HealthAlertData = HealthAlertPayload;

/** `data` of a `process_status` event; the same shape the processes module publishes. */
export interface ProcessStatusData {
  readonly processId: string;
  readonly status: ProcessStatus;
  readonly previous: ProcessStatus | null;
}

/** Payload types by event type, for a typed `StreamgateClient<ActivityEventMap>`. */
export type ActivityEventMap = {
  agent_activity: AgentActivityData;
  agent_collaboration: CollaborationData;
  agent_health_changed: AgentHealthData;
  health_alert: HealthAlertData;
  process_status: ProcessStatusData;
};
