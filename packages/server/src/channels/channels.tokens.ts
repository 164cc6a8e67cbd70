/** The event bus's observer, as channels report to it (`EventBusObservers`). */
export const CHANNELS_OBSERVER = 'STREAMGATE:CHANNELS_OBSERVER';
