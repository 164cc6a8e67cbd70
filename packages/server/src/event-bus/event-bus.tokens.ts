/** The resolved module options. */
export const EVENT_BUS_OPTIONS = 'EVENT_BUS:OPTIONS';
/** The running event log (driver, settings, publisher, subscription, consumer groups). */
export const EVENT_LOG = 'EVENT_BUS:LOG';
/** The options as given to `forRoot` / `forRootAsync`, before the observers are joined. */
export const GIVEN_EVENT_BUS_OPTIONS = 'EVENT_BUS:GIVEN_OPTIONS';
/** The `EventBusObservers` the log and the hub report to. */
export const EVENT_BUS_OBSERVERS = 'EVENT_BUS:OBSERVERS';
/**
 * What streamgate's own modules take from the event bus. It is always
 * global, whatever `isGlobal` the host gave `EventBusModule`: `isGlobal`
 * decides where the host's code sees `EventPublisher`, not whether
 * `EventsGatewayModule` and `ProcessesModule` find the bus.
 */
export const EVENT_BUS_LINK = 'STREAMGATE:EVENT_BUS_LINK';
/**
 * The publisher of streamgate's own services (process messages, access
 * notices), which may publish the reserved types that `EventPublisher`
 * refuses. Not exported from the package.
 */
export const INTERNAL_EVENT_PUBLISHER = 'EVENT_BUS:INTERNAL_PUBLISHER';
