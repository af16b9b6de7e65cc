/**
 * The profile registry: the plan's `hermes_profiles` table (section 3.1) plus what a real system needs, and the
 * append-only `profile_events` audit table. One interface, two backends (sqlite.ts, postgres.ts) behind it.
 * Column names are a compatibility contract (operators query them); never store a secret here, only its fingerprint.
 */
import type { Tier } from "@twilight/core";

export const PROFILE_STATUSES = ["creating", "starting", "running", "stopped", "error", "migrating", "sleeping"] as const;
export type ProfileStatus = (typeof PROFILE_STATUSES)[number];
export type DesiredState = "running" | "stopped";

export interface ProfileRow {
  id: string;
  name: string;
  tier: Tier;
  user_id: string | null;
  status: ProfileStatus;
  desired_state: DesiredState;
  /** The plan's columns, for people and queries: the workload's main pid (prefab) and its engine id (container). */
  pid: number | null;
  container_id: string | null;
  /**
   * What the driver needs to find its workload again (JSON, driver-owned, opaque to everything else): e.g. pid and
   * /proc start time for a process, container id for Docker. A new driver adds fields here, never columns.
   */
  workload_handle: string | null;
  profile_path: string;
  /** The swarm node (its io.twilight.node name) holding the profile's directory; null: the fleet's own host. */
  node: string | null;
  port: number;
  uid: number;
  gid: number;
  generation: number;
  image: string | null;
  plan: string | null;
  /** Idempotency key of the request that created the profile (billing passes the order id). Unique when set. */
  order_id: string | null;
  restart_count: number;
  last_error: string | null;
  /** SHA-256 over the sorted names and values of the generated secrets: shows a change, reveals nothing. */
  secrets_fingerprint: string;
  created_at: string;
  updated_at: string;
  last_health_check: string | null;
  last_started_at: string | null;
}

export type NewProfile = Omit<
  ProfileRow,
  "id" | "created_at" | "updated_at" | "restart_count" | "last_error" | "last_health_check" | "last_started_at" | "generation"
> & { generation?: number };

export type ProfilePatch = Partial<Omit<ProfileRow, "id" | "name" | "created_at" | "updated_at">>;

export interface ProfileEvent {
  id: number;
  profile: string;
  at: string;
  actor: string;
  action: string;
  result: "ok" | "error" | "info";
  detail: Record<string, unknown>;
}

export type NewEvent = Omit<ProfileEvent, "id" | "at" | "detail"> & { detail?: Record<string, unknown> };

export interface Registry {
  readonly backend: "sqlite" | "postgres";
  /** Apply pending versioned migrations; safe to call at every start. */
  migrate(): Promise<void>;
  /** Throws Conflict when the name, port, uid or order id is taken. */
  insert(p: NewProfile): Promise<ProfileRow>;
  get(name: string): Promise<ProfileRow | undefined>;
  getByOrderId(orderId: string): Promise<ProfileRow | undefined>;
  list(): Promise<ProfileRow[]>;
  /** SQLite: `PRAGMA integrity_check`; PostgreSQL: reachability. Never throws for a damaged file: ok=false says so. */
  integrity(): Promise<{ ok: boolean; detail: string }>;
  /** Throws NotFound when the profile does not exist. `updated_at` is set by the registry. */
  update(name: string, patch: ProfilePatch): Promise<ProfileRow>;
  /** Increment restart_count atomically and return the new row. */
  bumpRestarts(name: string): Promise<ProfileRow>;
  /** Throws NotFound when the profile does not exist. Its events stay (the audit trail outlives the profile). */
  remove(name: string): Promise<void>;
  addEvent(e: NewEvent): Promise<void>;
  /** Newest first; `limit` defaults to 1000 (at most 10000). */
  events(opts?: { profile?: string; limit?: number }): Promise<ProfileEvent[]>;
  /**
   * Call `listener` after every change to a profile row made through this registry (insert, update, restart count,
   * remove), so a live view can follow transitions shorter than its poll. Returns the unsubscribe function.
   */
  watch(listener: () => void): () => void;
  close(): Promise<void>;
}
