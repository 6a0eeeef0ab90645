import { Catch, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { answerFor } from './error-table.js';

/**
 * Every error of every route goes through here: typed errors get their status, code and
 * plain-words message from the one table (error-table.ts). Anything else is unexpected: a bare
 * 500 whose details go to the log, never to the client.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  public catch(error: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    // A stream (SSE) that already sent its headers can only be ended.
    if (res.headersSent) {
      res.end();
      return;
    }
    const answer = answerFor(error);
    if (answer) {
      for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
      res.status(answer.status).json(answer.body);
      return;
    }
    process.stderr.write(`node: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    res.status(500).json({ code: 'INTERNAL', message: 'Something went wrong inside this node. The details are in its log.' });
  }
}
