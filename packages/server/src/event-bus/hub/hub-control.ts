import { StoredEvent } from '../domain/event';

export {
  CONTROL_EVENT_TYPE,
  CONTROL_SCOPE,
  isControlEvent,
} from '../domain/control-event';

/** Receives control entries, synchronously and in log order. */
export type ControlListener = (event: StoredEvent) => void;
