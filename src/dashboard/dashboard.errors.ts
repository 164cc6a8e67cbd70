/** The browser bundle or a page asset could not be produced; the page cannot work. */
export class DashboardUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DashboardUnavailableError';
  }
}
