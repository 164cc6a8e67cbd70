/** The `EventsGatewayModule` options (`forRoot` / `forRootAsync`). */
export const EVENTS_GATEWAY_OPTIONS = 'EVENT_BUS:GATEWAY_OPTIONS';
