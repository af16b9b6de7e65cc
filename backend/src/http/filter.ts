/** The one error mapping of the billing HTTP API: DomainError -> core's status map and `{error:{code,message,hint?}}`. */

import type { ServerResponse } from "node:http";
import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException } from "@nestjs/common";
import { DomainError, type Logger, sendError } from "@twilight/core";

@Catch()
export class DomainErrorFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(e: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    let err: DomainError;
    if (e instanceof DomainError) err = e;
    else if (e instanceof HttpException) {
      const status = e.getStatus();
      err = new DomainError(status === 404 ? "NOT_FOUND" : status === 405 ? "INPUT_INVALID" : "INTERNAL", e.message);
    } else {
      this.log.error({ err: e }, "unhandled error");
      err = new DomainError("INTERNAL", "internal error; see the service log");
    }
    sendError(res, err);
  }
}
