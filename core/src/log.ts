/** Structured logs (pino). Secrets never reach a log line: known secret keys are redacted wherever they appear. */
import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

const SECRET_KEYS = [
  "token",
  "apiKey",
  "api_key",
  "authorization",
  "password",
  "secret",
  "secrets",
  "env",
  "SILICONFLOW_API_KEY",
  "TWILIGHT_API_TOKEN",
  "API_SERVER_KEY",
  "MCP_TUSHARE_TOKEN",
  "WEIXIN_TOKEN",
];

export function createLogger(service: string, opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const paths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `headers.${k}`, `req.headers.${k}`]);
  return pino(
    {
      name: service,
      level: opts.level ?? process.env.LOG_LEVEL ?? "info",
      redact: { paths, censor: "[redacted]" },
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination,
  );
}
