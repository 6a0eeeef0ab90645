import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { ZodError } from 'zod';
import { ActionNotAllowedError, EventRejectedError } from '@pursuance/pursuance';
import { CryptoError } from '@pursuance/crypto';
import { InvalidRequestError, PursuanceQuarantinedError, UnknownPursuanceError, UnknownTaskError } from '../domain/errors.js';

/**
 * Maps typed errors to HTTP answers with a stable `code` and a human-readable `message`
 * (a denied action names the rule that denied it). Unexpected errors become a bare 500:
 * their details go to the log, never to the client.
 */
@Catch()
export class ErrorFilter implements ExceptionFilter {
  public catch(error: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const send = (status: number, body: Record<string, unknown>): void => {
      res.status(status).json(body);
    };
    if (error instanceof HttpException) {
      const r = error.getResponse();
      send(error.getStatus(), typeof r === 'object' ? (r as Record<string, unknown>) : { code: 'HTTP', message: r });
    } else if (error instanceof ActionNotAllowedError) {
      send(403, { code: error.code, message: error.message, ...(error.rule ? { rule: error.rule } : {}) });
    } else if (error instanceof PursuanceQuarantinedError) {
      // The pursuance exists here but could not be rebuilt: a conflict with its stored state, not a server fault.
      send(409, { code: error.code, message: error.message, pursuanceId: error.pursuanceId });
    } else if (error instanceof UnknownPursuanceError || error instanceof UnknownTaskError) {
      send(404, { code: error.code, message: error.message });
    } else if (error instanceof ZodError) {
      const issue = error.issues[0];
      send(400, { code: 'INVALID_REQUEST', message: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` });
    } else if (error instanceof InvalidRequestError || error instanceof CryptoError) {
      send(400, { code: 'INVALID_REQUEST', message: error.message });
    } else if (error instanceof EventRejectedError) {
      send(422, { code: error.code, message: error.message });
    } else {
      process.stderr.write(`node: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      send(500, { code: 'INTERNAL', message: 'internal error' });
    }
  }
}
