// Record shapes of /work/shared/spec/interfaces.md (minimum fields; the server may add more).

export type Role = "admin" | "manager" | "viewer" | "inspector";

export interface User {
  id: string | number;
  name: string;
  role: Role | string;
}

export interface Ref {
  id: string | number;
  name: string | null;
}

export interface Person {
  id: string | number;
  name: string | null;
  phone: string | null;
}

export type Kind =
  | "task_report"
  | "issue_report"
  | "issue_update"
  | "issue_resolved"
  | "check_in"
  | "instruction"
  | "chatter";

export interface Location {
  block?: string | null;
  level?: string | null;
  unit?: string | null;
  area?: string | null;
}

export interface Classification {
  kind: Kind | string;
  status?: string | null;
  category?: string | null;
  location?: Location | null;
  priority?: string | null;
  repeat?: boolean;
  confidence?: number | null;
  cues?: string[] | null;
}

export interface RecordRef {
  type: "task" | "issue" | string;
  id: string | number;
}

export interface Evidence {
  id: string | number;
  kind: string;
  mime?: string | null;
  message?: string | number | null;
  record?: RecordRef | null;
  sha256?: string | null;
  bytes?: number | null;
  status?: string | null;
  filename?: string | null;
  received_at?: string | null;
  duplicate_of?: string | number | null;
  role?: string | null;
  link_reason?: string | null;
  /** When its message was sent, and by whom. */
  sent_at?: string | null;
  sender?: Person | null;
}

export interface Message {
  id: string | number;
  chat: Ref | null;
  sender: Person | null;
  sent_at: string;
  type: string;
  text: string | null;
  edited?: boolean;
  deleted?: boolean;
  kind?: string | null;
  classification?: Classification | null;
  record?: RecordRef | null;
  /** Evidence ids (the contract); full evidence objects are accepted too. */
  media?: Array<string | number | Evidence> | null;
  source?: string | null;
  snippet?: string | null;
  /** A voice note's transcript, where the server's `[transcribe] command` ran on it. */
  transcript?: { evidence: number; status: "pending" | "done" | "failed"; text: string | null; error: string | null } | null;
  /** `voice_note` when the message was classified by its voice note's transcript. */
  text_source?: string | null;
  /** Optional extension: the evidence objects of `media`, saving one request per attachment. */
  evidence?: Evidence[] | null;
}

export interface Sla {
  respond_by?: string | null;
  resolve_by?: string | null;
  breached?: boolean | null;
  respond_breached?: boolean | null;
  resolve_breached?: boolean | null;
}

export interface Issue {
  id: string | number;
  title: string | null;
  status: string;
  category?: string | null;
  priority?: string | null;
  location?: Location | null;
  site?: Ref | null;
  chat?: Ref | null;
  opened_at?: string | null;
  reported_by?: Person | null;
  owner?: Person | Ref | null;
  resolved_at?: string | null;
  repeat_of?: string | number | null;
  merged_into?: string | number | null;
  closed_at?: string | null;
  messages?: number | null;
  photos?: number | null;
  sla?: Sla | null;
  /** The vendor the owner works for. */
  owner_vendor?: Ref | null;
}

/** Counts over everything a filtered issue list selects (first page of `GET /issues`). */
export interface IssueTotals {
  all: number;
  open: number;
  overdue_now: number;
  late_once: number;
  done: number;
}

/** Someone in a ticket's history: a person of the chats, or a tapak user (a manager's login). */
export interface HistoryWho {
  id?: number | null;
  name?: string | null;
  phone?: string | null;
  user?: boolean;
}

/** One line of `GET /issues/{id}/timeline`. */
export interface HistoryEntry {
  at: string;
  event: "opened" | "message" | "status" | "assigned" | "merged" | "reclassified" | "message_moved" | "evidence_moved" | string;
  actor?: HistoryWho | null;
  status?: string | null;
  person?: HistoryWho | null;
  message?: { id: number; kind?: string | null; type?: string; text?: string | null; media?: number[]; link_reason?: string | null } | null;
  note?: string | null;
  place?: string | null;
  kind?: string | null;
  target?: RecordRef | null;
  evidence?: number | null;
  proof?: boolean | null;
  /** The vendor the ticket went to (`vendor_assigned`). */
  vendor?: string | null;
  summary: string;
}

export interface TimelineEntry {
  id: string | number;
  sent_at: string;
  sender?: Person | null;
  kind?: string | null;
  text?: string | null;
  type?: string | null;
  link_reason?: string | null;
  media?: Array<string | number> | null;
  /** Optional: the message's classification (saves a GET /messages/{id} before a correction). */
  classification?: Classification | null;
}

/** A stored manager correction (who, when, why); `data` depends on `target`. */
export interface Correction {
  id: string | number;
  chat_id?: string | number | null;
  target: "action" | "message" | "evidence" | string;
  target_id?: string | number | null;
  data?: Record<string, unknown> | null;
  actor: string;
  reason?: string | null;
  at: string;
}

export interface IssueDetail extends Issue {
  timeline?: TimelineEntry[] | null;
  evidence?: Evidence[] | null;
  corrections?: Correction[] | null;
}

export interface Task {
  id: string | number;
  status: string;
  category?: string | null;
  location?: Location | null;
  site?: Ref | null;
  chat?: Ref | null;
  reported_at?: string | null;
  reported_by?: Person | null;
  schedule?: unknown;
  evidence?: Array<Evidence | string | number> | null;
  title?: string | null;
  text?: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface ChatActivity {
  id: string | number;
  name: string | null;
  last_message_at?: string | null;
  messages?: number | null;
}

export interface Dashboard {
  messages_today?: number;
  tasks_today?: number;
  open_issues?: number;
  overdue_issues?: number;
  tasks_done_today?: number;
  media_pending?: number;
  media_failed?: number;
  backlog?: Backlog;
  recent_issues?: Issue[];
  chats?: ChatActivity[];
}

/** Deliveries acknowledged but not yet filed into messages and records (after a burst). */
export interface Backlog {
  deliveries_waiting: number;
  filing_per_second?: number | null;
  seconds_left?: number | null;
}

export interface Site {
  id: string | number;
  name: string;
  chats?: number | null;
  settings?: SiteSettings | null;
}

export interface SiteSettings {
  require_proof?: boolean;
  blocks?: string[];
  [k: string]: unknown;
}

export interface Chat {
  id: string | number;
  name: string | null;
  source?: string | null;
  is_group?: boolean;
  site?: Ref | null;
  last_message_at?: string | null;
  messages?: number | null;
}

export interface PersonFull extends Person {
  vendor?: Ref | null;
  aliases?: string[] | null;
  ids?: string[] | null;
}

export interface Vendor {
  id: string | number;
  name: string;
  trade?: string | null;
}

export interface ImportSummary {
  path: string;
  messages: number;
  new: number;
  duplicates: number;
  media: number;
  records_created: number;
  errors: string[];
  id?: number | null;
  chat?: Ref | null;
  site?: Ref | null;
  live_matches?: number;
  media_stored?: number;
  media_missing?: number;
  edited?: number;
  deleted?: number;
  system?: number;
  date_order?: string | null;
  date_order_ambiguous?: boolean;
  bytes?: number;
  warnings?: string[];
  first_message_at?: string | null;
  last_message_at?: string | null;
}

export interface ImportRow {
  id: string | number;
  created_at: string;
  actor?: string | null;
  path: string;
  bytes?: number | null;
  chat?: Ref | null;
  site?: Ref | null;
  messages: number;
  new: number;
  duplicates: number;
  media?: number;
  media_stored?: number;
  media_missing?: number;
  records_created?: number;
  first_message_at?: string | null;
  last_message_at?: string | null;
}

export interface SlaTarget {
  respond_within_mins: number;
  resolve_within_mins: number;
  around_the_clock?: boolean;
}

export interface SlaRule {
  category: string | null;
  priority: string | null;
  target: SlaTarget;
}

export interface BusinessHours {
  start: string;
  end: string;
  weekdays: string[];
  holidays?: string[];
}

export interface SlaPolicy {
  rules: SlaRule[];
  default: SlaTarget;
  business_hours: BusinessHours | null;
}

export interface RepeatGroup {
  category?: string | null;
  chat_id?: string | number | null;
  site_id?: string | number | null;
  first_at?: string | null;
  last_at?: string | null;
  location?: Location | null;
  said_repeat?: number | null;
  tickets: Array<string | number>;
}

export interface Repeats {
  days?: number;
  items: RepeatGroup[];
}

export type Assignee = { vendor: string } | { name?: string | null; phone: string };

export interface Checkpoint {
  code: string;
  name: string;
}

export interface Schedule {
  id: number;
  name: string;
  site: Ref | null;
  category: string;
  location: Location | null;
  assignees: Assignee[];
  chat: Ref | null;
  rrule: string;
  window_minutes: number;
  photo_required: boolean;
  remind_after_minutes: number | null;
  escalate_after_minutes: number | null;
  escalate_to: { name?: string | null; phone: string }[];
  checkpoints: Checkpoint[];
  route?: string | null;
  audience?: string | null;
  created_at?: string;
  updated_at?: string;
}

export interface ReminderStep {
  id: number;
  rung: string;
  purpose: string;
  to: string;
  text: string;
  at: string;
  send?: number | null;
  state?: string | null;
}

export interface Occurrence {
  id: number;
  schedule: { id: number; name: string | null };
  site: Ref | null;
  starts_at: string;
  due_at: string;
  round?: number | null;
  status: string;
  task: number | null;
  report?: string | null;
  reported_at?: string | null;
  reason?: string | null;
  missing_checkpoints?: string[];
  excused_reason?: string | null;
  excused_by?: string | null;
  evidence: number[];
  reminders: ReminderStep[];
}
