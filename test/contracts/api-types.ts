/**
 * The dashboard keeps its own copy of the node API's response shapes (apps/dashboard/src/lib/
 * types.ts): it is a browser bundle and must not import the node app. This file is the
 * contract between the two copies, checked by `tsc -b` (the typecheck step of CI): if the node
 * adds, drops or changes a field the dashboard reads, the build fails here.
 *
 * Each check asks two things: what the node sends is assignable to what the dashboard expects,
 * and both name exactly the same fields (the dashboard knows every field the node sends).
 */
import type * as Dash from '../../apps/dashboard/src/lib/types.js';
import type { ProgressEvent as NodeProgress } from '../../apps/node/src/events.js';
import type { FeedItem, MemberModel, PursuanceSummary, RoleModel, TaskListItem, TaskModel } from '../../apps/node/src/domain/read-models.js';
import type { IngestReport } from '../../apps/node/src/domain/registry.js';
import type { PursuanceChanges } from '../../apps/node/src/domain/changes.js';
import type { NetworkView } from '../../apps/node/src/network/network-status.js';
import type { RelayModel, SyncStatus } from '../../apps/node/src/sync/sync.service.js';
import type { ProfileModel, ProfileUpdate } from '../../apps/node/src/domain/profile.js';
import type { NominationModel, SuccessionModel } from '../../apps/node/src/domain/succession.js';
import type { SafetyModel } from '../../apps/node/src/domain/safety.js';
import type {
  JoinRequestModel,
  ProfileModel as PublicProfileModel,
  ProfilePreview,
  ReviewInboxModel,
  SentRequestModel,
} from '../../apps/node/src/sync/admission.service.js';
import type { LinkModel, LinkOfferModel, LinkOfferPreview, LinkSentModel, LinkTaskSent, VouchModel } from '../../apps/node/src/sync/link.service.js';
import type { LinkRefusal } from '../../apps/node/src/sync/link-store.js';
import type { AcnStatus } from '../../packages/tapir/src/index.js';
import type { Rejection } from '../../packages/pursuance/src/index.js';

type Fields<T> = keyof T;
type SameFields<A, B> = [Fields<A>] extends [Fields<B>] ? ([Fields<B>] extends [Fields<A>] ? true : false) : false;
type Reads<Node, Dashboard> = [Node] extends [Dashboard] ? SameFields<Node, Dashboard> : false;

/** The node's progress event carries exactly the SSE payload fields. */
type NodeProgressPayload = Pick<NodeProgress, 'job' | 'pursuanceId' | 'done' | 'total'>;

export const contract: {
  summary: Reads<PursuanceSummary, Dash.PursuanceSummary>;
  member: Reads<MemberModel, Dash.MemberModel>;
  role: Reads<RoleModel, Dash.RoleModel>;
  task: Reads<TaskModel, Dash.TaskModel>;
  taskListItem: Reads<TaskListItem, Dash.TaskListItem>;
  comment: Reads<TaskModel['comments'][number], Dash.CommentView>;
  history: Reads<TaskModel['history'][number], Dash.HistoryEntry>;
  historyChange: Reads<NonNullable<TaskModel['history'][number]['change']>, Dash.HistoryChange>;
  feed: Reads<FeedItem, Dash.FeedItem>;
  rejection: Reads<Rejection, Dash.Rejection>;
  ingest: Reads<IngestReport, Dash.IngestReport>;
  sync: Reads<SyncStatus, Dash.SyncStatus>;
  progress: Reads<NodeProgressPayload, Dash.ProgressEvent>;
  network: Reads<NetworkView, Dash.NetworkView>;
  networkStatus: Reads<AcnStatus, Dash.NetworkStatus>;
  profile: Reads<ProfileModel, Dash.ProfileModel>;
  profileUpdate: Reads<ProfileUpdate, Dash.ProfileUpdate>;
  relay: Reads<RelayModel, Dash.RelayModel>;
  succession: Reads<SuccessionModel, Dash.SuccessionModel>;
  nomination: Reads<NominationModel, Dash.NominationModel>;
  safety: Reads<SafetyModel, Dash.SafetyModel>;
  changes: Reads<PursuanceChanges, Dash.PursuanceChanges>;
  changesTasks: Reads<PursuanceChanges['tasks'], Dash.PursuanceChanges['tasks']>;
  changesFeed: Reads<PursuanceChanges['feed'], Dash.PursuanceChanges['feed']>;
  publicProfile: Reads<PublicProfileModel, Dash.PursuanceProfile>;
  reviewRequest: Reads<JoinRequestModel, Dash.ReviewRequest>;
  reviewInbox: Reads<ReviewInboxModel, Dash.ReviewInbox>;
  profilePreview: Reads<ProfilePreview, Dash.ProfilePreview>;
  sentJoinRequest: Reads<SentRequestModel, Dash.SentJoinRequest>;
  link: Reads<LinkModel, Dash.LinkModel>;
  linkSent: Reads<LinkSentModel, Dash.LinkSentModel>;
  linkRefusal: Reads<LinkRefusal, Dash.LinkRefusal>;
  linkKey: Reads<LinkModel['keys'][number], Dash.LinkKeyModel>;
  linkOffer: Reads<LinkOfferModel, Dash.LinkOfferModel>;
  linkPreview: Reads<LinkOfferPreview, Dash.LinkOfferPreview>;
  linkTaskSent: Reads<LinkTaskSent, Dash.LinkTaskSent>;
  vouch: Reads<VouchModel, Dash.VouchIssued>;
} = {
  summary: true,
  member: true,
  role: true,
  task: true,
  taskListItem: true,
  comment: true,
  history: true,
  historyChange: true,
  feed: true,
  rejection: true,
  ingest: true,
  sync: true,
  progress: true,
  network: true,
  networkStatus: true,
  profile: true,
  profileUpdate: true,
  relay: true,
  succession: true,
  nomination: true,
  safety: true,
  changes: true,
  changesTasks: true,
  changesFeed: true,
  publicProfile: true,
  reviewRequest: true,
  reviewInbox: true,
  profilePreview: true,
  sentJoinRequest: true,
  link: true,
  linkSent: true,
  linkRefusal: true,
  linkKey: true,
  linkOffer: true,
  linkPreview: true,
  linkTaskSent: true,
  vouch: true,
};
