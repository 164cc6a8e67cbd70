/** The resolved module options. */
export const EVENT_BUS_OPTIONS = 'EVENT_BUS:OPTIONS';
/** The running event log (driver, settings, publisher, subscription, consumer groups). */
export const EVENT_LOG = 'EVENT_BUS:LOG';
/**
 * The publisher of streamgate's own services (process messages, access
 * notices), which may publish the reserved types that `EventPublisher`
 * refuses. Not exported from the package.
 */
export const INTERNAL_EVENT_PUBLISHER = 'EVENT_BUS:INTERNAL_PUBLISHER';
