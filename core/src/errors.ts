/**
 * Typed domain errors. Every error an operator can see carries a stable `code`, a message that says what failed,
 * and a `hint` that says what to do next. Transports (CLI, HTTP, MCP) map `code` to exit codes / status codes in
 * one place each; the domain never throws a transport error.
 */
export type ErrorCode =
  | "NAME_INVALID"
  | "INPUT_INVALID"
  | "TOO_LARGE"
  | "CONFIG_INVALID"
  | "NOT_FOUND"
  | "CONFLICT"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "PRECONDITION"
  | "UNAVAILABLE"
  | "NOT_LEADER"
  | "TIMEOUT"
  | "DRIVER"
  | "CITE_INVALID"
  | "UPSTREAM"
  | "INTERNAL";

export interface DomainErrorOptions {
  hint?: string;
  details?: Record<string, unknown>;
  retryable?: boolean;
  cause?: unknown;
}

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown>;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, opts: DomainErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details ?? {};
    this.retryable = opts.retryable ?? false;
  }

  toJSON(): { code: ErrorCode; message: string; hint?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.hint ? { hint: this.hint } : {}),
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
    };
  }
}

export class NameInvalid extends DomainError {
  constructor(name: string, why: string) {
    super("NAME_INVALID", `profile name ${JSON.stringify(name.slice(0, 80))} is invalid: ${why}`, {
      hint: "use a DNS label: 1-40 characters of a-z, 0-9 and '-', starting with a letter, not ending with '-'",
      details: { name: name.slice(0, 80) },
    });
  }
}

export class InputInvalid extends DomainError {
  constructor(message: string, opts: DomainErrorOptions = {}) {
    super("INPUT_INVALID", message, opts);
  }
}

export class ConfigInvalid extends DomainError {
  constructor(message: string, opts: DomainErrorOptions = {}) {
    super("CONFIG_INVALID", message, opts);
  }
}

export class NotFound extends DomainError {
  constructor(what: string, id: string, hint?: string) {
    super("NOT_FOUND", `${what} ${JSON.stringify(id)} not found`, { hint, details: { [what]: id } });
  }
}

export class Conflict extends DomainError {
  constructor(message: string, opts: DomainErrorOptions = {}) {
    super("CONFLICT", message, opts);
  }
}

export class Unauthorized extends DomainError {
  constructor(message = "missing or wrong credentials", hint?: string) {
    super("UNAUTHORIZED", message, { hint });
  }
}

export class Forbidden extends DomainError {
  constructor(message: string, hint?: string) {
    super("FORBIDDEN", message, { hint });
  }
}

export class Precondition extends DomainError {
  constructor(message: string, opts: DomainErrorOptions = {}) {
    super("PRECONDITION", message, opts);
  }
}

export class Unavailable extends DomainError {
  constructor(message: string, opts: DomainErrorOptions = {}) {
    super("UNAVAILABLE", message, { retryable: true, ...opts });
  }
}

/**
 * A change sent to a standby control plane: another daemon leads (holds the registry's leader lock) and is the only one
 * that changes anything. Retryable: send it to the leader, or here again once this daemon has taken over.
 * `details.retry_after_seconds` becomes the HTTP answer's Retry-After.
 */
export class NotLeader extends DomainError {
  constructor(o: { leaderUrl?: string; takingOver?: boolean; retryAfterS?: number } = {}) {
    const retryAfterS = o.retryAfterS ?? 2;
    super(
      "NOT_LEADER",
      o.takingOver
        ? "this fleet daemon is taking over as leader and accepts changes once it has adopted the fleet"
        : "this fleet daemon is a standby: another daemon leads and is the only one that makes changes",
      {
        retryable: true,
        hint: o.takingOver
          ? `retry in ${retryAfterS} s`
          : o.leaderUrl
            ? `send it to the leader at ${o.leaderUrl}, or retry: a standby takes over within seconds when the leader dies`
            : `retry in ${retryAfterS} s: a standby takes over within seconds when the leader dies`,
        details: { retry_after_seconds: retryAfterS, ...(o.leaderUrl ? { leader_url: o.leaderUrl } : {}) },
      },
    );
  }
}

export class TimeoutError extends DomainError {
  constructor(message: string, opts: DomainErrorOptions = {}) {
    super("TIMEOUT", message, { retryable: true, ...opts });
  }
}

/** A runtime driver (process, docker, swarm) failed. `retryable` says whether trying again may help. */
export class DriverError extends DomainError {
  constructor(driver: string, message: string, opts: DomainErrorOptions = {}) {
    super("DRIVER", `${driver}: ${message}`, { ...opts, details: { driver, ...(opts.details ?? {}) } });
  }
}

export class UpstreamError extends DomainError {
  constructor(service: string, message: string, opts: DomainErrorOptions = {}) {
    super("UPSTREAM", `${service}: ${message}`, { ...opts, details: { service, ...(opts.details ?? {}) } });
  }
}

export function isDomainError(e: unknown): e is DomainError {
  return e instanceof DomainError;
}

/** Wire shape of an error, as every HTTP API of ours returns it: `{ error: { code, message, hint?, details? } }`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; hint?: string; details?: Record<string, unknown> };
}

/** Rebuild a DomainError from its wire shape (used by HTTP clients such as the CLI). */
export function errorFromBody(body: unknown, fallbackStatus: number): DomainError {
  const e = (body as ErrorBody | undefined)?.error;
  if (e && typeof e.code === "string" && typeof e.message === "string") {
    return new DomainError(e.code, e.message, { hint: e.hint, details: e.details });
  }
  return new DomainError("INTERNAL", `unexpected HTTP ${fallbackStatus} response`, { details: { body } });
}

/** HTTP status for each error code: the single mapping every HTTP server of ours uses. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  NAME_INVALID: 400,
  INPUT_INVALID: 400,
  TOO_LARGE: 413,
  CONFIG_INVALID: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PRECONDITION: 412,
  UNAVAILABLE: 503,
  NOT_LEADER: 503,
  TIMEOUT: 504,
  DRIVER: 502,
  CITE_INVALID: 422,
  UPSTREAM: 502,
  INTERNAL: 500,
};
