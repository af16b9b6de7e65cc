/**
 * Tushare signals failures in `msg` text (numeric codes are not documented consistently), so errors are classified by
 * the message. The messages below are Tushare's own; the local protocol server sends the same ones.
 */
import { UpstreamError } from "@twilight/core";

export type TushareErrorKind = "bad_token" | "rate_minute" | "rate_day" | "permission" | "bad_request" | "upstream";

export const TUSHARE_MESSAGES = {
  badToken: "您的token不对，请确认。",
  rateMinute: (n: number) =>
    `抱歉，您每分钟最多访问该接口${n}次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。`,
  rateDay: (n: number) => `抱歉，您每天最多访问该接口${n}次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。`,
  permission: "抱歉，您没有访问该接口的权限，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。",
} as const;

/** Classify a non-zero Tushare response by its message. Pure. */
export function classifyTushareMsg(msg: string): TushareErrorKind {
  const m = msg.toLowerCase();
  if (/token/.test(m) && /(不对|无效|错误|过期|invalid|wrong)/.test(m)) return "bad_token";
  if (/每分钟|每小时|per minute|per hour/.test(m)) return "rate_minute";
  if (/每天|每日|per day/.test(m)) return "rate_day";
  if (/没有.*权限|权限不足|积分不足|no permission|permission denied/.test(m)) return "permission";
  if (/参数|接口名|不存在|必填|param|api_name/.test(m)) return "bad_request";
  return "upstream";
}

const HINTS: Record<TushareErrorKind, string> = {
  bad_token: "check TUSHARE_TOKEN (the token of your Tushare Pro account)",
  rate_minute: "the per-minute limit of this API was reached; the client waits and retries",
  rate_day: "the daily limit of this API is used up; the scheduler tries again on its next run",
  permission: "your Tushare account level has no access to this API; raise its points or drop the API",
  bad_request: "the request was malformed; this is a bug in the caller",
  upstream: "Tushare answered with an error; the scheduler tries again on its next run",
};

export class TushareError extends UpstreamError {
  readonly kind: TushareErrorKind;
  readonly api: string;
  constructor(kind: TushareErrorKind, api: string, message: string, code?: number) {
    super("tushare", `${api}: ${message}`, {
      hint: HINTS[kind],
      retryable: kind === "rate_minute",
      details: { kind, api, ...(code === undefined ? {} : { code }) },
    });
    this.kind = kind;
    this.api = api;
  }
}
