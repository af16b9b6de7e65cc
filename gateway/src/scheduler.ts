/**
 * Fair sharing of the upstream: at most `slots` requests in flight upstream in all, at most a key's own cap in flight for
 * that key, and the waiting keys served round-robin (one request per key per turn), so a key with a deep queue never
 * delays another key's next request by more than one turn. A key whose own queue is full is refused at once
 * (`concurrency`), it does not wait. When the upstream answers 429 the whole gateway pauses until its Retry-After:
 * the shared key's rate is then handed out round-robin again.
 */
export class QueueFull extends Error {
  constructor(readonly inFlight: number) {
    super("queue full");
  }
}

interface Waiter {
  grant: () => void;
  fail: (e: Error) => void;
}

interface KeyState {
  inFlight: number;
  cap: number;
  waiters: Waiter[];
}

export type Release = () => void;

export class FairScheduler {
  private inFlight = 0;
  private readonly keys = new Map<string, KeyState>();
  /** Keys with waiters, in round-robin order. */
  private ring: string[] = [];
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly slots: number,
    private readonly now: () => number = Date.now,
  ) {}

  get active(): number {
    return this.inFlight;
  }

  queued(key?: string): number {
    if (key !== undefined) return this.keys.get(key)?.waiters.length ?? 0;
    let n = 0;
    for (const s of this.keys.values()) n += s.waiters.length;
    return n;
  }

  /** Wait for a slot. Throws QueueFull when `key` already has `queueCap` waiting. */
  acquire(key: string, cap: number, queueCap: number, signal?: AbortSignal): Promise<Release> {
    let s = this.keys.get(key);
    if (!s) {
      s = { inFlight: 0, cap, waiters: [] };
      this.keys.set(key, s);
    }
    s.cap = cap;
    const st = s;
    if (st.waiters.length === 0 && st.inFlight < cap && this.inFlight < this.slots && this.now() >= this.pausedUntil) {
      return Promise.resolve(this.take(key, st));
    }
    if (st.waiters.length >= queueCap) return Promise.reject(new QueueFull(st.inFlight));
    return new Promise<Release>((resolve, reject) => {
      const w: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(this.take(key, st));
        },
        fail: reject,
      };
      const onAbort = () => {
        const i = st.waiters.indexOf(w);
        if (i >= 0) st.waiters.splice(i, 1);
        this.tidy(key, st);
        reject(new Error("aborted while queued"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      st.waiters.push(w);
      if (!this.ring.includes(key)) this.ring.push(key);
      this.dispatch();
    });
  }

  /** Hold every new upstream request until `untilMs` (the upstream said 429 with Retry-After). */
  pause(untilMs: number): void {
    if (untilMs <= this.pausedUntil) return;
    this.pausedUntil = untilMs;
    this.arm();
  }

  private take(key: string, s: KeyState): Release {
    s.inFlight++;
    this.inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      s.inFlight--;
      this.inFlight--;
      this.tidy(key, s);
      this.dispatch();
    };
  }

  private tidy(key: string, s: KeyState): void {
    if (s.waiters.length === 0) this.ring = this.ring.filter((k) => k !== key);
    if (s.inFlight === 0 && s.waiters.length === 0) this.keys.delete(key);
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    const wait = this.pausedUntil - this.now();
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.dispatch();
      },
      Math.max(0, wait),
    );
  }

  private dispatch(): void {
    if (this.now() < this.pausedUntil) {
      if (!this.timer) this.arm();
      return;
    }
    let progressed = true;
    while (this.inFlight < this.slots && this.ring.length && progressed) {
      progressed = false;
      for (let i = 0; i < this.ring.length && this.inFlight < this.slots; i++) {
        const key = this.ring[0] as string;
        // rotate: whoever is served goes to the back of the ring
        this.ring.push(this.ring.shift() as string);
        const s = this.keys.get(key);
        if (!s || s.inFlight >= s.cap) continue;
        const w = s.waiters.shift();
        if (!w) continue;
        if (s.waiters.length === 0) this.ring = this.ring.filter((k) => k !== key);
        w.grant();
        progressed = true;
        break;
      }
    }
  }
}
