/** An activity was refused before anything was published; `field` names the culprit. */
export class InvalidActivityError extends Error {
  constructor(
    message: string,
    /** Where the problem is, e.g. `agent` or `payload.status`. */
    readonly field: string,
  ) {
    super(message);
    this.name = 'InvalidActivityError';
  }
}

/** Demo traffic settings that cannot work, e.g. a rate outside the allowed range. */
export class InvalidDemoOptionsError extends Error {
  constructor(
    message: string,
    /** The option at fault, e.g. `ratePerSecond`. */
    readonly field: string,
  ) {
    super(message);
    this.name = 'InvalidDemoOptionsError';
  }
}
