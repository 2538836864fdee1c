/**
 * Content reports. Spec: client-server-api/modules/report_content.md — POST
 * /rooms/{roomId}/report, /rooms/{roomId}/report/{eventId}, /users/{userId}/report. Reports are
 * stored for the admin (dashboard, CLI). The rooms area plugs in the checks that need room
 * state (spec: reporting an event requires being joined to its room); without them the report
 * is stored as given, which v1.18 allows ("MAY return 200 responses regardless").
 */
import { ContentReportsStore, type ContentReportRow } from '../storage/content-reports-store.ts';
import type { Services } from './container.ts';

export interface ReportChecks {
  /** True if the room exists (known to this server). */
  roomExists?: (roomId: string) => Promise<boolean>;
  /** True if the event exists and `userId` is joined to its room and may see it. */
  eventReportable?: (userId: string, roomId: string, eventId: string) => Promise<boolean>;
}

export class ReportsService {
  readonly store: ContentReportsStore;
  /** Set by the rooms area. */
  readonly checks: ReportChecks = {};

  constructor(private readonly s: Services) {
    this.store = new ContentReportsStore(s.db);
  }

  /** Returns false when the target is not reportable (the caller answers 404). */
  async reportRoom(reporter: string, roomId: string, reason: string | null): Promise<boolean> {
    if (this.checks.roomExists && !(await this.checks.roomExists(roomId))) return false;
    await this.store.insert({ reporter, roomId, eventId: null, targetUser: null, reason, now: this.s.now() });
    this.s.log.info({ reporter, room_id: roomId }, 'room reported');
    return true;
  }

  async reportEvent(reporter: string, roomId: string, eventId: string, reason: string | null): Promise<boolean> {
    if (this.checks.eventReportable && !(await this.checks.eventReportable(reporter, roomId, eventId))) return false;
    await this.store.insert({ reporter, roomId, eventId, targetUser: null, reason, now: this.s.now() });
    this.s.log.info({ reporter, room_id: roomId, event_id: eventId }, 'event reported');
    return true;
  }

  /** Local users must exist; remote users cannot be checked here and are stored as given. */
  async reportUser(reporter: string, userId: string, reason: string | null): Promise<boolean> {
    const local = userId.endsWith(`:${this.s.config.server_name}`);
    if (local && !(await this.s.users.getByUserId(userId))) return false;
    await this.store.insert({ reporter, roomId: null, eventId: null, targetUser: userId, reason, now: this.s.now() });
    this.s.log.info({ reporter, target: userId }, 'user reported');
    return true;
  }

  list(limit?: number, beforeId?: number | null): Promise<ContentReportRow[]> {
    return this.store.list(limit, beforeId ?? null);
  }
}
