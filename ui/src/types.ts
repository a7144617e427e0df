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
  sha256?: string | null;
  bytes?: number | null;
  status?: string | null;
  filename?: string | null;
  received_at?: string | null;
  duplicate_of?: string | number | null;
  role?: string | null;
  link_reason?: string | null;
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
  /** Optional extension: the evidence objects of `media`, saving one request per attachment. */
  evidence?: Evidence[] | null;
}

export interface Sla {
  respond_by?: string | null;
  resolve_by?: string | null;
  breached?: boolean | null;
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
  sla?: Sla | null;
}

export interface TimelineEntry {
  id: string | number;
  sent_at: string;
  sender?: Person | null;
  kind?: string | null;
  text?: string | null;
  link_reason?: string | null;
}

export interface IssueDetail extends Issue {
  timeline?: TimelineEntry[] | null;
  evidence?: Evidence[] | null;
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
  open_issues?: number;
  overdue_issues?: number;
  tasks_done_today?: number;
  media_pending?: number;
  media_failed?: number;
  recent_issues?: Issue[];
  chats?: ChatActivity[];
}
