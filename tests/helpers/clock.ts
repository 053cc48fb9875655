import type { Clock } from '../../src/time.js';

/** 2030-01-01T00:00:00.000Z: far from the real clock, so no test can pass by reading it. */
export const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** An injected clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(public ms: number = T0) {}
  nowMs(): number {
    return this.ms;
  }
  advance(ms: number): this {
    this.ms += ms;
    return this;
  }
}
