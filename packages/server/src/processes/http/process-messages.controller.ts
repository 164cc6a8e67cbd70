import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import type { Response } from 'express';
import { BearerAuthGuard } from '../../access/bearer-auth.guard';
import type { AuthenticatedRequest } from '../../access/bearer-auth.guard';
import { RequireScope } from '../../access/require-scope.decorator';
import {
  NewProcessMessage,
  ProcessStatus,
  assertProcessId,
  assertProcessStatus,
} from '../domain/process-message';
import { processScope } from '../process-events.protocol';
import { ProcessMessagesService } from '../process-messages.service';
import { NdjsonFormat, SseFormat } from '../streaming/process-stream.formats';
import { ProcessStreamsService } from '../streaming/process-streams.service';
import { RESOLVED_PROCESSES_OPTIONS } from '../processes.tokens';
import type { ResolvedProcessesOptions } from '../processes.options';
import { ProcessMessagesExceptionFilter } from './process-messages.exception-filter';
import { parseCursor, parseLimit, readModeOf } from './process-messages.params';
import { ApiBearerAuth, ApiTags } from '../../openapi/openapi.decorators';
import {
  AppendProcessMessageDoc,
  ReadProcessMessagesDoc,
  SetProcessStatusDoc,
} from './process-messages.openapi';

/** Scope that lets a producer append messages and set statuses of any process. */
export const PROCESSES_WRITE_SCOPE = 'processes:write';

/**
 * Process messages over HTTP: producers append and set statuses; readers get
 * a JSON page, or history then live messages as SSE or NDJSON.
 */
@ApiTags('processes')
@ApiBearerAuth()
@Controller('processes')
@UseGuards(BearerAuthGuard)
@UseFilters(ProcessMessagesExceptionFilter)
export class ProcessMessagesController {
  constructor(
    private readonly messages: ProcessMessagesService,
    private readonly streams: ProcessStreamsService,
    @Inject(RESOLVED_PROCESSES_OPTIONS)
    private readonly options: ResolvedProcessesOptions,
  ) {}

  @Post(':id/messages')
  @HttpCode(201)
  @RequireScope(PROCESSES_WRITE_SCOPE)
  @AppendProcessMessageDoc(PROCESSES_WRITE_SCOPE)
  async append(
    @Param('id') processId: string,
    @Body() body: unknown,
  ): Promise<{ seq: number }> {
    assertProcessId(processId);
    const message = await this.messages.append(
      processId,
      body as NewProcessMessage,
    );
    return { seq: message.seq };
  }

  @Put(':id/status')
  @HttpCode(200)
  @RequireScope(PROCESSES_WRITE_SCOPE)
  @SetProcessStatusDoc(PROCESSES_WRITE_SCOPE)
  async setStatus(
    @Param('id') processId: string,
    @Body() body: unknown,
  ): Promise<{ status: ProcessStatus; previous: ProcessStatus | null }> {
    assertProcessId(processId);
    const status = assertProcessStatus(
      (body as { status?: unknown } | null)?.status,
    );
    return this.messages.setStatus(processId, status);
  }

  @Get(':id/messages')
  @RequireScope((request) => processScope(request.params.id))
  @ReadProcessMessagesDoc()
  async read(
    @Param('id') processId: string,
    @Headers('accept') accept: string | undefined,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query('after') afterParam: unknown,
    @Query('limit') limitParam: unknown,
    @Req() req: AuthenticatedRequest,
    @Res() res: Response,
  ): Promise<void> {
    assertProcessId(processId);
    const cursor = parseCursor(lastEventId, afterParam);
    const limit = parseLimit(limitParam);
    const mode = readModeOf(accept);
    if (mode === 'json') {
      res.json(
        await this.messages.page(processId, cursor.after, limit, cursor.field),
      );
      return;
    }
    const format =
      mode === 'sse' ? new SseFormat(this.options.retryMs) : new NdjsonFormat();
    await this.streams.open({
      processId,
      after: cursor.after,
      cursorField: cursor.field,
      format,
      output: res,
      principal: req.principal,
      begin: () => {
        res.status(200);
        res.setHeader('Content-Type', format.contentType);
        res.setHeader('Cache-Control', 'no-cache');
        // Keeps nginx (and proxies that honour it) from buffering the stream.
        res.setHeader('X-Accel-Buffering', 'no');
        res.setHeader('Connection', 'keep-alive');
        res.flushHeaders();
        res.socket?.setNoDelay(true);
      },
    });
  }
}
