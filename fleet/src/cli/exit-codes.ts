/** The CLI's one mapping from domain error codes to exit codes (documented in README and `--help`). */
import type { ErrorCode } from "@twilight/core";

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  unavailable: 5,
  driver: 6,
  unauthorized: 7,
  checkFailed: 8,
} as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case "NAME_INVALID":
    case "INPUT_INVALID":
    case "CONFIG_INVALID":
    case "TOO_LARGE":
      return EXIT.usage;
    case "NOT_FOUND":
      return EXIT.notFound;
    case "CONFLICT":
    case "PRECONDITION":
      return EXIT.conflict;
    case "UNAVAILABLE":
    case "NOT_LEADER":
    case "TIMEOUT":
      return EXIT.unavailable;
    case "DRIVER":
    case "UPSTREAM":
      return EXIT.driver;
    case "UNAUTHORIZED":
    case "FORBIDDEN":
      return EXIT.unauthorized;
    case "CITE_INVALID":
      return EXIT.checkFailed;
    default:
      return EXIT.failure;
  }
}

export const EXIT_HELP = `Exit codes:
  0  success                     5  daemon or profile unavailable, timeout (retry may help)
  1  unexpected failure          6  runtime driver (process/docker) or upstream failure
  2  bad input (name, flag)      7  admin token missing or wrong
  3  profile not found           8  a health check or verification failed
  4  conflict (exists, running)  exec passes the command's own exit code through`;
