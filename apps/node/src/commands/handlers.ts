import { CommandHandler, EventBus, type ICommandHandler } from '@nestjs/cqrs';
import { Inject } from '@nestjs/common';
import { publicKeyFromOnion } from '@pursuance/crypto';
import type { SignedEvent } from '@pursuance/pursuance';
import { ProfileService, type ProfileUpdate } from '../domain/profile.js';
import { attestAt, snapshotToAttest } from '../domain/snapshots.js';
import { PursuanceRegistry, type IngestReport, type PursuanceEntry } from '../domain/registry.js';
import { ProgressEvent } from '../events.js';
import { SyncService } from '../sync/sync.service.js';
import {
  AddMemberCommand,
  AssignRoleCommand,
  AttestSnapshotCommand,
  ChangeRulesCommand,
  ChangeTaskCommand,
  ClaimNominationCommand,
  CreatePursuanceCommand,
  CreateTaskCommand,
  SubmitCommand,
  EndorseNominationCommand,
  IngestEventsCommand,
  LeavePursuanceCommand,
  NominateFounderCommand,
  RebuildProjectionsCommand,
  RemoveMemberCommand,
  RemoveRoleCommand,
  RotateKeysCommand,
  SetProfileNameCommand,
  ShareKeysCommand,
} from './commands.js';

/**
 * The founder's display name (the profile's) goes into the genesis: nobody sees "founder abc…".
 * A relay given with the creation is checked first, so a garbage bundle or a relay whose keys
 * changed refuses the whole request and leaves no pursuance behind.
 */
@CommandHandler(CreatePursuanceCommand)
export class CreatePursuanceHandler implements ICommandHandler<CreatePursuanceCommand> {
  public constructor(
    @Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry,
    @Inject(ProfileService) private readonly profile: ProfileService,
    @Inject(SyncService) private readonly sync: SyncService,
  ) {}
  public async execute(c: CreatePursuanceCommand): Promise<PursuanceEntry> {
    if (c.relay !== undefined) await this.sync.trustRelay(c.relay, 'relay');
    const founderName = this.profile.name();
    return this.registry.create({ name: c.name, description: c.description, rules: c.rules, ...(founderName !== null ? { founderName } : {}) });
  }
}

@CommandHandler(SetProfileNameCommand)
export class SetProfileNameHandler implements ICommandHandler<SetProfileNameCommand> {
  public constructor(@Inject(ProfileService) private readonly profile: ProfileService) {}
  public execute(c: SetProfileNameCommand): Promise<ProfileUpdate> {
    return this.profile.setName(c.name);
  }
}

@CommandHandler(AddMemberCommand)
export class AddMemberHandler implements ICommandHandler<AddMemberCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: AddMemberCommand): Promise<SignedEvent> {
    const key = publicKeyFromOnion(c.member);
    return this.registry.act(c.pursuanceId, (a) => a.addMember(key, { ...(c.name ? { name: c.name } : {}), roles: c.roles }));
  }
}

@CommandHandler(AssignRoleCommand)
export class AssignRoleHandler implements ICommandHandler<AssignRoleCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: AssignRoleCommand): Promise<SignedEvent> {
    return this.registry.act(c.pursuanceId, (a) => a.assignRole(c.member, c.role));
  }
}

@CommandHandler(RemoveRoleCommand)
export class RemoveRoleHandler implements ICommandHandler<RemoveRoleCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: RemoveRoleCommand): Promise<SignedEvent> {
    return this.registry.act(c.pursuanceId, (a) => a.removeRole(c.member, c.role));
  }
}

/** Removal also re-keys the pursuance's Cwtch group, so the removed node hears nothing new (SyncService.removeMember). */
@CommandHandler(RemoveMemberCommand)
export class RemoveMemberHandler implements ICommandHandler<RemoveMemberCommand> {
  public constructor(@Inject(SyncService) private readonly sync: SyncService) {}
  public execute(c: RemoveMemberCommand): Promise<SignedEvent> {
    return this.sync.removeMember(c.pursuanceId, c.member, c.reason);
  }
}

@CommandHandler(LeavePursuanceCommand)
export class LeavePursuanceHandler implements ICommandHandler<LeavePursuanceCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: LeavePursuanceCommand): Promise<SignedEvent> {
    return this.registry.act(c.pursuanceId, (a) => a.leave());
  }
}

@CommandHandler(ChangeRulesCommand)
export class ChangeRulesHandler implements ICommandHandler<ChangeRulesCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: ChangeRulesCommand): Promise<SignedEvent> {
    return this.registry.act(c.pursuanceId, (a) => a.changeRules(c.rules));
  }
}

@CommandHandler(RotateKeysCommand)
export class RotateKeysHandler implements ICommandHandler<RotateKeysCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: RotateKeysCommand): Promise<SignedEvent> {
    return this.registry.act(c.pursuanceId, (a) => a.rotateKeys(c.roles));
  }
}

@CommandHandler(ShareKeysCommand)
export class ShareKeysHandler implements ICommandHandler<ShareKeysCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public async execute(c: ShareKeysCommand): Promise<SignedEvent | null> {
    let shared: SignedEvent | null = null;
    try {
      shared = await this.registry.act(c.pursuanceId, (a) => {
        const e = a.shareMissingKeys();
        if (!e) throw new NothingToShare();
        return e;
      });
    } catch (err) {
      if (!(err instanceof NothingToShare)) throw err;
    }
    return shared;
  }
}

/** Internal signal: every holder already has every key we could share. */
class NothingToShare extends Error {}

/**
 * The snapshot is taken at the newest stable point of this node's history (a typed 409 when
 * there is none yet); asking again for the same point returns the attestation already signed.
 */
@CommandHandler(AttestSnapshotCommand)
export class AttestSnapshotHandler implements ICommandHandler<AttestSnapshotCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public async execute(c: AttestSnapshotCommand): Promise<SignedEvent> {
    const { existing, frontier } = snapshotToAttest(this.registry.get(c.pursuanceId));
    if (existing) return existing;
    return this.registry.act(c.pursuanceId, (a) => attestAt(a, frontier));
  }
}

/** The author checks each succession step with the fold before signing: a refused step throws ActionNotAllowedError. */
@CommandHandler(NominateFounderCommand)
export class NominateFounderHandler implements ICommandHandler<NominateFounderCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: NominateFounderCommand): Promise<SignedEvent> {
    return this.registry.act(c.pursuanceId, (a) => a.nominateFounder(c.candidate));
  }
}

@CommandHandler(EndorseNominationCommand)
export class EndorseNominationHandler implements ICommandHandler<EndorseNominationCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: EndorseNominationCommand): Promise<SignedEvent> {
    return this.registry.act(c.pursuanceId, (a) => a.endorseNomination(c.nomination));
  }
}

@CommandHandler(ClaimNominationCommand)
export class ClaimNominationHandler implements ICommandHandler<ClaimNominationCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: ClaimNominationCommand): Promise<SignedEvent> {
    return this.registry.act(c.pursuanceId, (a) => a.claimNomination(c.nomination));
  }
}

@CommandHandler(CreateTaskCommand)
export class CreateTaskHandler implements ICommandHandler<CreateTaskCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: CreateTaskCommand): Promise<SignedEvent> {
    return this.registry.act(c.pursuanceId, (a) => a.createTask(c.task));
  }
}

@CommandHandler(SubmitCommand)
export class SubmitHandler implements ICommandHandler<SubmitCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: SubmitCommand): Promise<SignedEvent> {
    return this.registry.act(c.pursuanceId, (a) => a.submit(c.audience, c.submission));
  }
}

@CommandHandler(ChangeTaskCommand)
export class ChangeTaskHandler implements ICommandHandler<ChangeTaskCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: ChangeTaskCommand): Promise<SignedEvent> {
    const { taskId: t, change } = c;
    return this.registry.act(c.pursuanceId, (a): SignedEvent => {
      switch (change.op) {
        case 'edit': {
          const { op: _op, ...patch } = change;
          return a.editTask(t, patch);
        }
        case 'assign':
          return a.assignTask(t, { ...(change.add ? { add: change.add } : {}), ...(change.remove ? { remove: change.remove } : {}) });
        case 'status':
          return a.setStatus(t, change.to);
        case 'close':
          return a.closeTask(t, change.to, change.note);
        case 'reopen':
          return a.reopenTask(t, change.to, change.note);
        case 'comment':
          return a.comment(t, change.body);
        case 'move':
          return a.moveTask(t, change.parent);
      }
    });
  }
}

@CommandHandler(IngestEventsCommand)
export class IngestEventsHandler implements ICommandHandler<IngestEventsCommand> {
  public constructor(@Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry) {}
  public execute(c: IngestEventsCommand): Promise<IngestReport> {
    return this.registry.ingest(c.pursuanceId, c.events, c.origin);
  }
}

@CommandHandler(RebuildProjectionsCommand)
export class RebuildProjectionsHandler implements ICommandHandler<RebuildProjectionsCommand> {
  public constructor(
    @Inject(PursuanceRegistry) private readonly registry: PursuanceRegistry,
    @Inject(EventBus) private readonly events: EventBus,
  ) {}
  public async execute(): Promise<{ pursuances: number; events: number; seconds: number }> {
    const started = performance.now();
    let events = 0;
    await this.registry.load((p) => {
      events = Math.max(events, p.done);
      // The dashboard's bar follows the read; a refold after it is told on the command line.
      if (p.stage === 'read') this.events.publish(new ProgressEvent('replay', p.pursuanceId, p.done, p.total));
    });
    const total = this.registry.list().reduce((n, e) => n + e.log.size, 0);
    return { pursuances: this.registry.list().length, events: total, seconds: (performance.now() - started) / 1000 };
  }
}

export const CommandHandlers = [
  CreatePursuanceHandler,
  SetProfileNameHandler,
  AddMemberHandler,
  AssignRoleHandler,
  RemoveRoleHandler,
  RemoveMemberHandler,
  LeavePursuanceHandler,
  ChangeRulesHandler,
  RotateKeysHandler,
  ShareKeysHandler,
  NominateFounderHandler,
  AttestSnapshotHandler,
  EndorseNominationHandler,
  ClaimNominationHandler,
  CreateTaskHandler,
  SubmitHandler,
  ChangeTaskHandler,
  IngestEventsHandler,
  RebuildProjectionsHandler,
];
