import { Body, Controller, Get, Inject, Put } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { SetProfileNameCommand } from '../commands/commands.js';
import { ProfileService } from '../domain/profile.js';
import { ProfileBody, type ProfileBodyDto } from './schemas.js';
import { ApiInput, responseSchema, valid } from './validation.js';
import { ServedWhileStarting } from './starting.js';

const ProfileDoc = z.object({
  onion: z.string().describe("this node's onion address: its identity in every pursuance"),
  name: z.string().nullable().describe('the display name, or null when none is set'),
});
const ProfileUpdateDoc = ProfileDoc.extend({
  pursuances: z.array(
    z.discriminatedUnion('status', [
      z.object({ pursuanceId: z.string(), status: z.literal('renamed'), eventId: z.string() }),
      z.object({ pursuanceId: z.string(), status: z.literal('refused'), code: z.string(), message: z.string() }),
    ]),
  ),
});

/** The node's own profile: who this node is to the others. */
@ApiTags('profile')
@ApiBearerAuth()
@Controller('api')
export class ProfileController {
  public constructor(
    @Inject(CommandBus) private readonly commands: CommandBus,
    @Inject(ProfileService) private readonly profile: ProfileService,
  ) {}

  @Get('profile')
  @ServedWhileStarting()
  @ApiOperation({ summary: "This node's onion address and display name" })
  @ApiOkResponse(responseSchema(ProfileDoc))
  public get() {
    return this.profile.get();
  }

  @Put('profile')
  @ApiOperation({
    summary: 'Change your display name',
    description:
      'Stores the name in the profile, then signs a rename in every pursuance where you are a member under another name, so the others see it. A pursuance that refuses (you are no longer a member there) is listed as refused; the others still get the name.',
  })
  @ApiInput({ body: ProfileBody })
  @ApiOkResponse(responseSchema(ProfileUpdateDoc))
  public update(@Body(valid.body(ProfileBody)) b: ProfileBodyDto) {
    return this.commands.execute(new SetProfileNameCommand(b.name));
  }
}
