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
import { BearerAuthGuard } from '../../access/bearer-auth.guard';
import type { AuthenticatedRequest } from '../../access/bearer-auth.guard';
import {
  checkIdempotencyKey,
  principalScopedKey,
} from '../../event-bus/domain/idempotency-key';
import { InvalidProcessMessageError } from '../domain/process-messages.errors';
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
import {
  answer,
  nodeResponseOf,
  takeNodeResponse,
} from '../../http/http-response';
import type { AnswerableResponse } from '../../http/http-response';
import { StreamgateExceptionFilter } from '../../http/streamgate-exception.filter';
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
@UseFilters(StreamgateExceptionFilter, ProcessMessagesExceptionFilter)
export class ProcessMessagesController {
  constructor(
    private readonly messages: ProcessMessagesService,
    private readonly streams: ProcessStreamsService,
    @Inject(RESOLVED_PROCESSES_OPTIONS)
    private readonly options: ResolvedProcessesOptions,
  ) {}

  /**
   * With an `Idempotency-Key` header, a retry of the same request (same
   * principal, same key, same message) answers with the first seq and stores
   * nothing; the same key with another message answers 422. Keys last as
   * long as the process's messages.
   */
  @Post(':id/messages')
  @HttpCode(201)
  @RequireScope(PROCESSES_WRITE_SCOPE)
  @AppendProcessMessageDoc(PROCESSES_WRITE_SCOPE)
  async append(
    @Param('id') processId: string,
    @Body() body: unknown,
    @Headers('idempotency-key') keyHeader: string | undefined,
    @Req() request: AuthenticatedRequest,
  ): Promise<{ seq: number }> {
    assertProcessId(processId);
    const key = checkIdempotencyKey(
      keyHeader,
      (text) => new InvalidProcessMessageError(text, 'Idempotency-Key'),
      'The Idempotency-Key header',
    );
    const message = await this.messages.append(
      processId,
      body as NewProcessMessage,
      key === undefined
        ? {}
        : {
            idempotencyKey: principalScopedKey(
              request.principal?.userId ?? '',
              key,
            ),
          },
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
    @Res() res: AnswerableResponse,
  ): Promise<void> {
    assertProcessId(processId);
    const cursor = parseCursor(lastEventId, afterParam);
    const limit = parseLimit(limitParam);
    const mode = readModeOf(accept);
    if (mode === 'json') {
      answer(
        res,
        200,
        await this.messages.page(processId, cursor.after, limit, cursor.field),
      );
      return;
    }
    const format =
      mode === 'sse' ? new SseFormat(this.options.retryMs) : new NdjsonFormat();
    // The stream writes to the Node response itself, on Express and Fastify
    // alike; the platform's reply answers only errors raised before it begins.
    const node = nodeResponseOf(res);
    await this.streams.open({
      processId,
      after: cursor.after,
      cursorField: cursor.field,
      format,
      output: node,
      principal: req.principal,
      begin: () => {
        takeNodeResponse(res);
        node.statusCode = 200;
        node.setHeader('Content-Type', format.contentType);
        node.setHeader('Cache-Control', 'no-cache');
        // Keeps nginx (and proxies that honour it) from buffering the stream.
        node.setHeader('X-Accel-Buffering', 'no');
        node.setHeader('Connection', 'keep-alive');
        node.flushHeaders();
        node.socket?.setNoDelay(true);
      },
    });
  }
}
