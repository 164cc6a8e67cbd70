export interface DemoTrafficOptions {
  /**
   * Events per second while the demo runs, from 0.1 to 50; `start()` may
   * override it per run.
   * @default 2
   */
  ratePerSecond?: number;
  /**
   * The agents that take part, at least two. `planner`, `coder`, `reviewer`
   * and `tester` get role-specific activity; other names get generic work.
   * @default ['planner', 'coder', 'reviewer', 'tester']
   */
  agents?: string[];
  /**
   * Source of randomness in [0, 1), for reproducible runs in tests.
   * @default Math.random
   */
  random?: () => number;
}

export interface ActivityModuleOptions {
  /** Settings of the demo traffic generator. @default see DemoTrafficOptions */
  demo?: DemoTrafficOptions;
}

/** Options of `forRoot` and `forRootAsync` that shape the module itself. */
export interface ActivityModuleExtras {
  /** Make `ActivityService` injectable everywhere. @default false */
  isGlobal: boolean;
  /**
   * Serve `GET /demo`, `POST /demo/start` and `POST /demo/stop` (without
   * authentication). For development only: keep it off in production.
   * @default false
   */
  demoApi: boolean;
}

export const MIN_DEMO_RATE = 0.1;
export const MAX_DEMO_RATE = 50;
export const DEFAULT_DEMO_RATE = 2;
