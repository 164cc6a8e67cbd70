/** The module options as given to `forRoot` / `forRootAsync`. */
export const PROCESSES_OPTIONS = 'PROCESSES:OPTIONS';
/** The options with every default applied and every value checked. */
export const RESOLVED_PROCESSES_OPTIONS = 'PROCESSES:RESOLVED_OPTIONS';
/** Optional `AnnouncementRelaySettings`, to relay the outbox on another schedule than the default. */
export const ANNOUNCEMENT_RELAY_SETTINGS =
  'PROCESSES:ANNOUNCEMENT_RELAY_SETTINGS';
