/**
 * Time behind a small interface so the scheduler and health can be tested without waiting, plus the Asia/Shanghai
 * calendar arithmetic the market runs on (UTC+8 all year, no daylight saving).
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private ms: number) {}
  now(): number {
    return this.ms;
  }
  set(ms: number): void {
    this.ms = ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const SHANGHAI_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;

/** The Shanghai calendar date (YYYYMMDD) and minute of day of an instant. */
export function shanghaiParts(ms: number): { date: string; minuteOfDay: number } {
  const d = new Date(ms + SHANGHAI_OFFSET_MS);
  const date = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
  return { date, minuteOfDay: d.getUTCHours() * 60 + d.getUTCMinutes() };
}

/** The instant at which a Shanghai wall-clock time happens on a given Shanghai date. */
export function shanghaiInstant(date: string, minuteOfDay: number): number {
  const y = Number(date.slice(0, 4));
  const m = Number(date.slice(4, 6));
  const d = Number(date.slice(6, 8));
  return Date.UTC(y, m - 1, d) - SHANGHAI_OFFSET_MS + minuteOfDay * 60_000;
}

/** Add whole days to a YYYYMMDD date. */
export function addDays(date: string, days: number): string {
  const t = Date.UTC(Number(date.slice(0, 4)), Number(date.slice(4, 6)) - 1, Number(date.slice(6, 8))) + days * DAY_MS;
  const d = new Date(t);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
}

/** Subtract whole years from a YYYYMMDD date (Feb 29 becomes Feb 28). */
export function minusYears(date: string, years: number): string {
  const y = Number(date.slice(0, 4)) - years;
  const md = date.slice(4) === "0229" ? "0228" : date.slice(4);
  return `${y}${md}`;
}

/** "16:30" -> 990. */
export function parseClockTime(hhmm: string): number {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
  if (!m) throw new Error(`${JSON.stringify(hhmm)} is not a time of day as HH:MM`);
  return Number(m[1]) * 60 + Number(m[2]);
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
