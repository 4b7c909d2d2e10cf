// "The run could not do what was asked, for a reason a maintainer should read" — as opposed to
// a bug or an outage, which is logged and reported as an internal error.
/** The run has to wait (its repository's runs are at the policy's concurrency limit); it went back to the queue. */
export class RunDeferred extends Error {
  constructor(reason: string) {
    super(reason);
  }
}

/** This process is draining: the run's still-running agent is left for another owner to take over. */
export class RunHandedOver extends Error {
  constructor() {
    super("handed over while draining");
  }
}

export class StepFailure extends Error {
  readonly title: string;
  readonly detail: string;
  /** One line for the progress comment's outcome. */
  readonly outcome: string;
  constructor(o: { outcome: string; title?: string; detail?: string }) {
    super(o.outcome);
    this.outcome = o.outcome;
    this.title = o.title ?? "Details";
    this.detail = o.detail ?? "";
  }
}
