import { Module } from '@nestjs/common';
import { EventsGatewayConfigurableModule } from './events-gateway.module-definition';

/**
 * The `/events` transports on this node's delivery hub: the Socket.IO
 * namespace (live events with recovery) and `POST /events` (publishing over
 * HTTP), with the access checks every transport shares (`AccessService`,
 * `BearerAuthGuard`). Needs `EventBusModule` somewhere in the app, global or
 * not, imported before or after it.
 */
@Module({})
export class EventsGatewayModule extends EventsGatewayConfigurableModule {}
