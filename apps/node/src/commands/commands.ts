import { Command } from '@nestjs/cqrs';
import type { OnionName } from '@pursuance/crypto';
import type { EventId, NewTask, Rules, SignedEvent } from '@pursuance/pursuance';
import type { ProfileUpdate } from '../domain/profile.js';
import type { IngestReport, PursuanceEntry } from '../domain/registry.js';
import type { EventOrigin } from '../store/entities.js';

/** One command per user action. Each handler is a thin call into the domain (see handlers.ts). */
export class CreatePursuanceCommand extends Command<PursuanceEntry> {
  public constructor(
    public readonly name: string,
    public readonly description: string,
    public readonly rules: Rules,
    /** A relay bundle to pin (or check against the pinned one) before anything is created; attaching is a separate command. */
    public readonly relay?: string,
  ) {
    super();
  }
}

export class AddMemberCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly member: OnionName,
    public readonly name: string | undefined,
    public readonly roles: readonly string[],
  ) {
    super();
  }
}

export class AssignRoleCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly member: OnionName,
    public readonly role: string,
  ) {
    super();
  }
}

export class RemoveRoleCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly member: OnionName,
    public readonly role: string,
  ) {
    super();
  }
}

export class RemoveMemberCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly member: OnionName,
    public readonly reason: string | undefined,
  ) {
    super();
  }
}

export class LeavePursuanceCommand extends Command<SignedEvent> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}

export class ChangeRulesCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly rules: Rules,
  ) {
    super();
  }
}

export class RotateKeysCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly roles: readonly string[],
  ) {
    super();
  }
}

export class ShareKeysCommand extends Command<SignedEvent | null> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}

/** Founder succession (rules/README.md): a founder nominates a member; founders endorse; the nominee may claim on inactivity. */
/** Vouch for a snapshot of the history at its newest stable point (any member may). */
export class AttestSnapshotCommand extends Command<SignedEvent> {
  public constructor(public readonly pursuanceId: string) {
    super();
  }
}

export class NominateFounderCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly candidate: OnionName,
  ) {
    super();
  }
}

export class EndorseNominationCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly nomination: EventId,
  ) {
    super();
  }
}

export class ClaimNominationCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly nomination: EventId,
  ) {
    super();
  }
}

export class CreateTaskCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly task: NewTask,
  ) {
    super();
  }
}

export class SubmitCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly audience: string,
    public readonly submission: { readonly title: string; readonly body?: string },
  ) {
    super();
  }
}

export type TaskChange =
  | { readonly op: 'edit'; readonly title?: string; readonly body?: string; readonly labels?: string[]; readonly due?: number | null }
  | { readonly op: 'assign'; readonly add?: { members?: OnionName[]; roles?: string[] }; readonly remove?: { members?: OnionName[]; roles?: string[] } }
  | { readonly op: 'status'; readonly to: string }
  | { readonly op: 'close'; readonly to?: string; readonly note?: string }
  | { readonly op: 'reopen'; readonly to?: string; readonly note?: string }
  | { readonly op: 'comment'; readonly body: string }
  | { readonly op: 'move'; readonly parent: EventId | null };

export class ChangeTaskCommand extends Command<SignedEvent> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly taskId: EventId,
    public readonly change: TaskChange,
  ) {
    super();
  }
}

/** Change this node's display name: in its profile, and by a signed rename in each pursuance. */
export class SetProfileNameCommand extends Command<ProfileUpdate> {
  public constructor(public readonly name: string) {
    super();
  }
}

export class IngestEventsCommand extends Command<IngestReport> {
  public constructor(
    public readonly pursuanceId: string,
    public readonly events: readonly Uint8Array[],
    public readonly origin: EventOrigin,
  ) {
    super();
  }
}

export class RebuildProjectionsCommand extends Command<{ pursuances: number; events: number; seconds: number }> {}
