import {
  BadRequestException,
  Body,
  Controller,
  Get,
  HttpCode,
  Post,
  UseGuards,
} from '@nestjs/common';
import { LocalRequestGuard } from '../dashboard/local-request.guard';
import { InvalidDemoOptionsError } from './activity.errors';
import { DemoTrafficService, DemoTrafficStatus } from './demo-traffic.service';

/**
 * Starts and stops the demo traffic. Registered only with `demoApi: true`
 * (the reference app does so while its development tools are on); it has no
 * authentication, and answers only local requests (`LocalRequestGuard`).
 */
@Controller('demo')
@UseGuards(LocalRequestGuard)
export class DemoTrafficController {
  constructor(private readonly demo: DemoTrafficService) {}

  @Get()
  status(): DemoTrafficStatus {
    return this.demo.status();
  }

  /** Body (optional): `{ "ratePerSecond": 5 }`. */
  @Post('start')
  @HttpCode(200)
  start(@Body() body: unknown): DemoTrafficStatus {
    const rate = (body as { ratePerSecond?: unknown } | undefined)
      ?.ratePerSecond;
    try {
      return this.demo.start(rate === undefined ? undefined : (rate as number));
    } catch (error) {
      if (error instanceof InvalidDemoOptionsError) {
        throw new BadRequestException({
          statusCode: 400,
          error: 'Bad Request',
          message: error.message,
          field: error.field,
        });
      }
      throw error;
    }
  }

  @Post('stop')
  @HttpCode(200)
  stop(): Promise<DemoTrafficStatus> {
    return this.demo.stop();
  }
}
