/** The resolved module options. */
export const EVENT_BUS_OPTIONS = 'EVENT_BUS:OPTIONS';
/** The running event log (driver, settings, publisher, subscription, consumer groups). */
export const EVENT_LOG = 'EVENT_BUS:LOG';
