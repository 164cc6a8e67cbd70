import { Module } from '@nestjs/common';
import { ActivityConfigurableModule } from './activity.module-definition';
import { ActivityService } from './activity.service';
import { DemoTrafficService } from './demo-traffic.service';

/**
 * Agent activity on the event bus (`ActivityService`) and a demo traffic
 * generator. Needs the `EventPublisher` port: import `EventBusModule` with
 * `isGlobal: true`. `forRoot({ demoApi: true })` adds the demo endpoints.
 */
@Module({
  providers: [ActivityService, DemoTrafficService],
  exports: [ActivityService, DemoTrafficService],
})
export class ActivityModule extends ActivityConfigurableModule {}
