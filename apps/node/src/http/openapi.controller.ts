import { Controller, Get, Inject } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { ServedWhileStarting } from './starting.js';

export const OPENAPI_DOCUMENT = Symbol('OPENAPI_DOCUMENT');

/** The OpenAPI description, generated from the controllers at start-up (token required like all /api). */
@ApiExcludeController()
@Controller('api')
export class OpenApiController {
  public constructor(@Inject(OPENAPI_DOCUMENT) private readonly holder: { document: unknown }) {}

  @Get('openapi.json')
  @ServedWhileStarting()
  public document(): unknown {
    return this.holder.document;
  }
}
