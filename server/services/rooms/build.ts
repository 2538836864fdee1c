/**
 * Builds the rooms area's services (events, state, rooms, sync and its streams, profiles, receipts,
 * typing, presence, account data, push evaluation, search, directory) and wires their hooks.
 * `Services` extends `RoomServices`, so every field here is a field of `s`.
 */
import type { Config } from '../../config/schema.ts';
import type { Database } from '../../storage/db.ts';
import type { Logger } from '../../logging.ts';
import type { PushRuleset } from '../../protocol/push-rules-defaults.ts';
import type { JsonObject } from '../../protocol/pdu-types.ts';
import { defaultPushRules } from '../../protocol/push-rules-defaults.ts';
import type { SigningKey } from '../../protocol/signing.ts';
import { AccountDataStore } from '../../storage/account-data-store.ts';
import { ReceiptsStore } from '../../storage/receipts-store.ts';
import { PushActionsStore } from '../../storage/push-actions-store.ts';
import { FiltersStore } from '../../storage/filters-store.ts';
import { ProfileStore } from '../../storage/profile-store.ts';
import { SearchStore } from '../../storage/search-store.ts';
import { loadOrCreateSigningKeys } from '../signing-key.ts';
import { RoomCore } from './core.ts';
import { Membership } from './membership.ts';
import { Sender } from './send.ts';
import { Visibility } from './visibility.ts';
import { RoomReads } from './room-reads.ts';
import { Profiles } from '../profile.ts';
import { AccountData } from '../account-data.ts';
import { Receipts } from '../receipts.ts';
import { Typing } from '../typing.ts';
import { Presence } from '../presence.ts';
import { PushEvaluator } from '../push-eval.ts';
import { installEventHooks } from '../events/hooks.ts';
import { RoomSync } from '../sync/room-sync.ts';
import { SyncService } from '../sync/sync-service.ts';
import type { Notifier } from '../notifier.ts';
import { Relations } from '../relations.ts';
import { Directory } from '../directory.ts';
import { Search } from '../search.ts';
import { SearchIndexer } from '../search-indexer.ts';

export interface RoomServices {
  /** Event store, caches, the event writer, serializer and stream positions. */
  roomCore: RoomCore;
  /** Wakes long-polling /sync; call notifyUser(userId) after committing something for them. */
  notifier: Notifier;
  /** The server's signing keys (first = current), from DATA_DIR/signing.key. */
  signingKeys: SigningKey[];
  profiles: Profiles;
  membership: Membership;
  sender: Sender;
  visibility: Visibility;
  roomReads: RoomReads;
  accountData: AccountData;
  receipts: Receipts;
  typing: Typing;
  presence: Presence;
  pushEval: PushEvaluator;
  searchStore: SearchStore;
  pushActions: PushActionsStore;
  sync: SyncService;
  relations: Relations;
  directory: Directory;
  search: Search;
}

export interface RoomBuildDeps {
  config: Config;
  db: Database;
  log: Logger;
  now: () => number;
  /** Aborted at shutdown: timers stop. */
  shutdown?: AbortSignal;
  /** The push-rules area's lookup, when it exists. */
  getPushRules?: (userId: string) => Promise<{ global: PushRuleset }>;
  /** The push-rules area's change observers (called after commit with the user). */
  pushRulesChanged?: Array<(userId: string) => void>;
  /** The accounts area's deactivation hooks: a deactivated user leaves every room. */
  onDeactivate?: Array<(userId: string, opts: { erase: boolean }) => Promise<void>>;
  /** The reports area's room checks, filled in here. */
  reportChecks?: {
    roomExists?: (roomId: string) => Promise<boolean>;
    eventReportable?: (userId: string, roomId: string, eventId: string) => Promise<boolean>;
  };
}

export async function buildRoomServices(d: RoomBuildDeps): Promise<RoomServices> {
  const signingKeys = loadOrCreateSigningKeys(d.config.data_dir);
  const serverName = () => {
    if (!d.config.server_name) throw new Error('server_name is not configured');
    return d.config.server_name;
  };
  const core = await RoomCore.create({ db: d.db, serverName, signingKeys, now: d.now });
  const notifier = core.notifier;
  const profileStore = new ProfileStore(d.db);
  const profiles = new Profiles(core, profileStore);
  const membership = new Membership(core, profiles);
  const sender = new Sender(core, membership);
  const visibility = new Visibility(core);
  const accountDataStore = new AccountDataStore(d.db);
  const accountData = new AccountData(d.db, accountDataStore, notifier, await accountDataStore.maxStreamId());
  const receiptsStore = new ReceiptsStore(d.db);
  const pushActions = new PushActionsStore(d.db);
  const receipts = new Receipts(d.db, core, receiptsStore, pushActions, notifier, await receiptsStore.maxStreamId());
  const typing = new Typing(core, notifier);
  const presence = new Presence(d.config.presence, core.state, notifier, d.now);
  const getRules = d.getPushRules ?? (async (userId: string) => ({ global: defaultPushRules(userId) }));
  const pushEval = new PushEvaluator(core, pushActions, getRules);
  const searchStore = new SearchStore(d.db);
  installEventHooks(core, searchStore);
  const searchIndexer = new SearchIndexer(d.db, searchStore, core.eventStream);
  core.writer.onCommitted((b) => {
    if (b.appended.length) searchIndexer.poke();
  });
  // Events stored before a restart but not yet indexed.
  searchIndexer.poke();
  core.writer.addHook(pushEval.hook);
  accountData.defaultPushRules = async (userId) => (await getRules(userId)) as unknown as JsonObject;
  // Changed rules: re-evaluate with the new ones, and show clients the new m.push_rules.
  d.pushRulesChanged?.push((userId) => {
    pushEval.invalidate(userId);
    void getRules(userId)
      .then((rules) => accountData.put(userId, '', 'm.push_rules', rules as unknown as JsonObject))
      .catch((err: unknown) => d.log.warn({ err, userId }, 'could not publish m.push_rules'));
  });

  const sync = new SyncService(core, new RoomSync(core, visibility), accountData, pushActions, new FiltersStore(d.db), presence);
  sync.registerSource(accountData.syncSource());
  sync.registerSource(receipts.syncSource());
  sync.registerSource(typing.syncSource());
  sync.registerSource(presence.syncSource());

  d.shutdown?.addEventListener(
    'abort',
    () => {
      presence.stop();
      typing.stop();
      searchIndexer.stop();
    },
    { once: true },
  );
  const roomReads = new RoomReads(core, visibility, (u) => accountData.ignoredUsers(u));
  const directory = new Directory(core, profileStore);

  d.onDeactivate?.push(async (userId) => {
    for (const r of await core.state.roomsOfUser(userId)) {
      if (r.membership === 'join' || r.membership === 'invite' || r.membership === 'knock') {
        await membership.leave(userId, r.room_id).catch((err: unknown) => d.log.warn({ err, userId, roomId: r.room_id }, 'deactivated user could not leave room'));
      }
    }
  });
  if (d.reportChecks) {
    d.reportChecks.roomExists = async (roomId) => (await core.maybeVersionOf(roomId)) !== undefined;
    d.reportChecks.eventReportable = async (userId, roomId, eventId) => {
      const ev = await core.eventCache.get(eventId);
      if (!ev || ev.roomId !== roomId) return false;
      if ((await core.currentState(roomId))?.membership(userId) !== 'join') return false;
      return (await visibility.filter(userId, [ev])).length === 1;
    };
  }
  return {
    roomCore: core,
    notifier,
    signingKeys,
    profiles,
    membership,
    sender,
    visibility,
    roomReads,
    accountData,
    receipts,
    typing,
    presence,
    pushEval,
    searchStore,
    pushActions,
    sync,
    relations: new Relations(core, visibility),
    directory,
    search: new Search(core, searchStore, visibility, roomReads, searchIndexer),
  };
}
