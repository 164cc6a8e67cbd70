/** The resolved module options. */
export const EVENT_BUS_OPTIONS = 'EVENT_BUS:OPTIONS';
/** The running event log (store, publisher, subscription, settings). */
export const EVENT_LOG = 'EVENT_BUS:LOG';
