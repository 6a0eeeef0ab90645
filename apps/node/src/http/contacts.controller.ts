import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { SafetyService } from '../domain/safety.js';
import { ContactParams, type ContactParamsDto, NoBody, type NoBodyDto, SafetyVerifyBody, type SafetyVerifyBodyDto } from './schemas.js';
import { ApiInput, responseSchema, valid } from './validation.js';

const SafetyDoc = z.object({
  onion: z.string().describe("the contact's onion address"),
  name: z.string().nullable().describe('a name they go by in one of your pursuances or your contacts, or null'),
  safetyNumber: z.string().describe('60 digits in 12 groups of 5, the same on both sides'),
  verifiedAt: z.number().nullable().describe('when you confirmed the digits matched (ms since the epoch), or null'),
});

/** The "compare this code in person" check with another person (a safety number). */
@ApiTags('contacts')
@ApiBearerAuth()
@Controller('api/contacts')
export class ContactsController {
  public constructor(@Inject(SafetyService) private readonly safety: SafetyService) {}

  @Get('safety')
  @ApiOperation({ summary: 'The contacts whose safety number you compared (and which is still current), for badges' })
  @ApiOkResponse({ schema: { type: 'array', items: responseSchema(z.object({ onion: z.string(), verifiedAt: z.number() })).schema } })
  public verified() {
    return this.safety.verified();
  }

  @Get(':onion/safety')
  @ApiOperation({ summary: 'The safety number with a contact, and whether you compared it' })
  @ApiInput({ params: ContactParams })
  @ApiOkResponse(responseSchema(SafetyDoc))
  public get(@Param(valid.params(ContactParams)) p: ContactParamsDto) {
    return this.safety.get(p.onion);
  }

  @Post(':onion/safety/verify')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Record that the safety number matched',
    description: 'The number sent must be the current one (409 SAFETY_NUMBER_MISMATCH otherwise), so a screen left open across a key change verifies nothing.',
  })
  @ApiInput({ params: ContactParams, body: SafetyVerifyBody })
  @ApiOkResponse(responseSchema(SafetyDoc))
  public verify(@Param(valid.params(ContactParams)) p: ContactParamsDto, @Body(valid.body(SafetyVerifyBody)) b: SafetyVerifyBodyDto) {
    return this.safety.verify(p.onion, b.safetyNumber);
  }

  @Delete(':onion/safety/verify')
  @ApiOperation({ summary: 'Forget that the safety number was compared' })
  @ApiInput({ params: ContactParams, body: NoBody, bodyRequired: false })
  @ApiOkResponse(responseSchema(SafetyDoc))
  public unverify(@Param(valid.params(ContactParams)) p: ContactParamsDto, @Body(valid.body(NoBody)) _: NoBodyDto) {
    return this.safety.unverify(p.onion);
  }
}
