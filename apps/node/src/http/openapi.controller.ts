import { Controller, Get, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { ServedWhileStarting } from './starting.js';

export const OPENAPI_DOCUMENT = Symbol('OPENAPI_DOCUMENT');

/**
 * Where the OpenAPI description comes from: generated from the controllers on first request,
 * not at start-up (walking every route's metadata is a tenth of the time to listen).
 */
export interface OpenApiSource {
  document(): unknown;
}

/** The OpenAPI description (token required like all /api). */
@ApiExcludeController()
@Controller('api')
export class OpenApiController {
  public constructor(@Inject(OPENAPI_DOCUMENT) private readonly source: OpenApiSource) {}

  @Get('openapi.json')
  @ServedWhileStarting()
  public document(): unknown {
    return this.source.document();
  }
}
