/** The `EventsGatewayModule` options (`forRoot` / `forRootAsync`). */
export const EVENTS_GATEWAY_OPTIONS = 'EVENT_BUS:GATEWAY_OPTIONS';
/** The same options with their defaults applied and checked. */
export const RESOLVED_EVENTS_GATEWAY_OPTIONS =
  'EVENT_BUS:RESOLVED_GATEWAY_OPTIONS';
