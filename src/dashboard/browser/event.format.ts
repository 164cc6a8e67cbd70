import type { ActivityEventMap } from '../../activity/activity.types';

type Data<K extends keyof ActivityEventMap> = Partial<ActivityEventMap[K]>;

const str = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : null;

/**
 * One line for people about the event types the reference app publishes, or
 * `null` for other types (the row then shows only the JSON). Data comes from
 * publishers: every field is checked before it is used.
 */
export function headline(type: string, data: unknown): string | null {
  if (data === null || typeof data !== 'object') return null;
  switch (type) {
    case 'agent_activity': {
      const d = data as Data<'agent_activity'>;
      const parts = [str(d.agent), str(d.action)].filter(Boolean).join(' · ');
      return joinText(parts, str(d.summary));
    }
    case 'agent_collaboration': {
      const d = data as Data<'agent_collaboration'>;
      const agents = Array.isArray(d.agents)
        ? d.agents.map((a) => String(a)).join(' → ')
        : null;
      return joinText(
        [agents, str(d.kind)].filter(Boolean).join(' · '),
        str(d.summary),
      );
    }
    case 'agent_health_changed': {
      const d = data as Data<'agent_health_changed'>;
      const change = `${str(d.previous) ?? '?'} → ${str(d.status) ?? '?'}`;
      return joinText(`${str(d.agent) ?? '?'} ${change}`, str(d.reason));
    }
    case 'health_alert': {
      const d = data as Data<'health_alert'>;
      return joinText(
        `[${str(d.level) ?? '?'}]${d.agent ? ` ${str(d.agent)}` : ''}`,
        str(d.message),
      );
    }
    case 'process_status': {
      const d = data as Data<'process_status'>;
      return `${str(d.processId) ?? '?'}: ${str(d.previous) ?? '–'} → ${str(d.status) ?? '?'}`;
    }
    case 'process_message': {
      const d = data as {
        processId?: unknown;
        seq?: unknown;
        type?: unknown;
        agent?: unknown;
      };
      return `${str(d.processId) ?? '?'} #${String(d.seq ?? '?')} ${str(d.type) ?? ''}${d.agent ? ` · ${str(d.agent)}` : ''}`;
    }
    default:
      return null;
  }
}

/** A severity class for the row, so that alerts and outages stand out. */
export function severity(type: string, data: unknown): string | null {
  const d = (data ?? {}) as { level?: unknown; status?: unknown };
  if (type === 'health_alert')
    return d.level === 'critical'
      ? 'critical'
      : d.level === 'warning'
        ? 'warning'
        : null;
  if (type === 'agent_health_changed')
    return d.status === 'down'
      ? 'critical'
      : d.status === 'degraded'
        ? 'warning'
        : null;
  return null;
}

function joinText(head: string, tail: string | null): string {
  return tail ? `${head} — ${tail}` : head;
}

/** Compact JSON for a table cell, cut at `max` characters. */
export function compactJson(value: unknown, max = 400): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** A stable palette slot per type name, so that each type keeps its colour. */
export function hueOf(type: string): number {
  let hash = 0;
  for (let i = 0; i < type.length; i++)
    hash = (hash * 31 + type.charCodeAt(i)) | 0;
  return Math.abs(hash) % 8;
}
