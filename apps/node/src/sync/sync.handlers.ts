import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { SyncService } from './sync.service.js';
import { JoinService, type JoinOutcome } from './join.service.js';
import { looksLikeJoinLink } from '../domain/join-link.js';

/** Connect a pursuance to a relay: create its Cwtch group there and post its log. */
export class AttachRelayCommand extends Command<{ groupId: string }> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly bundle: string,
  ) {
    super();
  }
}

/** Send the pursuance's group invite to a contact over p2p. */
export class InviteContactCommand extends Command<void> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly onion: string,
  ) {
    super();
  }
}

/** Join a pursuance from its group invite (pasted, or received from a contact). */
export class AcceptInviteCommand extends Command<JoinOutcome> {
  public constructor(public readonly invite: string) {
    super();
  }
}

@CommandHandler(AttachRelayCommand)
export class AttachRelayHandler implements ICommandHandler<AttachRelayCommand> {
  public constructor(@Inject(SyncService) private readonly sync: SyncService) {}
  public async execute(c: AttachRelayCommand): Promise<{ groupId: string }> {
    return { groupId: await this.sync.attach(c.pursuanceId, c.bundle) };
  }
}

@CommandHandler(InviteContactCommand)
export class InviteContactHandler implements ICommandHandler<InviteContactCommand> {
  public constructor(@Inject(SyncService) private readonly sync: SyncService) {}
  public execute(c: InviteContactCommand): Promise<void> {
    return this.sync.inviteContact(c.pursuanceId, c.onion);
  }
}

@CommandHandler(AcceptInviteCommand)
export class AcceptInviteHandler implements ICommandHandler<AcceptInviteCommand> {
  public constructor(
    @Inject(SyncService) private readonly sync: SyncService,
    @Inject(JoinService) private readonly joins: JoinService,
  ) {}
  /** A join link asks the inviter's node; a group invite (the older way) joins at once. */
  public async execute(c: AcceptInviteCommand): Promise<JoinOutcome> {
    if (looksLikeJoinLink(c.invite)) return this.joins.request(c.invite);
    return { pursuanceId: await this.sync.accept(c.invite), status: 'joined' };
  }
}

/** Move the pursuance to another relay (see SyncService.move). */
export class MoveRelayToCommand extends Command<{ groupId: string; eventId: string }> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly bundle: string,
  ) {
    super();
  }
}

@CommandHandler(MoveRelayToCommand)
export class MoveRelayToHandler implements ICommandHandler<MoveRelayToCommand> {
  public constructor(@Inject(SyncService) private readonly sync: SyncService) {}
  public execute(c: MoveRelayToCommand): Promise<{ groupId: string; eventId: string }> {
    return this.sync.move(c.pursuanceId, c.bundle);
  }
}

/** List a mirror relay for the pursuance (see SyncService.addMirror). */
export class AddMirrorCommand extends Command<{ groupId: string; eventId: string }> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly bundle: string,
  ) {
    super();
  }
}

@CommandHandler(AddMirrorCommand)
export class AddMirrorHandler implements ICommandHandler<AddMirrorCommand> {
  public constructor(@Inject(SyncService) private readonly sync: SyncService) {}
  public execute(c: AddMirrorCommand): Promise<{ groupId: string; eventId: string }> {
    return this.sync.addMirror(c.pursuanceId, c.bundle);
  }
}

/** Stop listing a mirror relay (see SyncService.dropMirror). */
export class DropMirrorCommand extends Command<{ eventId: string }> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly bundle: string,
  ) {
    super();
  }
}

@CommandHandler(DropMirrorCommand)
export class DropMirrorHandler implements ICommandHandler<DropMirrorCommand> {
  public constructor(@Inject(SyncService) private readonly sync: SyncService) {}
  public execute(c: DropMirrorCommand): Promise<{ eventId: string }> {
    return this.sync.dropMirror(c.pursuanceId, c.bundle);
  }
}

export const SyncCommandHandlers = [AttachRelayHandler, InviteContactHandler, AcceptInviteHandler, MoveRelayToHandler, AddMirrorHandler, DropMirrorHandler];
