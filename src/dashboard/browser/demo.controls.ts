import { byId, byTestId } from './dom';
import { errorText } from './token.source';

interface DemoStatus {
  running: boolean;
  ratePerSecond: number;
  published: number;
  failed: number;
}

const POLL_MS = 2000;

/** The header's demo traffic button, backed by `GET /demo`, `POST /demo/start` and `POST /demo/stop`. */
export class DemoControls {
  private readonly box = byTestId('demo-controls');
  private readonly button = byTestId<HTMLButtonElement>('demo-toggle');
  private readonly statusText = byTestId('demo-status');
  private readonly rate = byId<HTMLInputElement>('demo-rate');
  private running = false;
  private poll: ReturnType<typeof setInterval> | null = null;

  async init(): Promise<void> {
    const response = await fetch('/demo', { cache: 'no-store' }).catch(
      () => null,
    );
    // Without the demo API (production) the controls stay hidden.
    if (!response?.ok) return;
    this.box.hidden = false;
    this.show((await response.json()) as DemoStatus);
    this.button.addEventListener('click', () => void this.toggle());
  }

  private async toggle(): Promise<void> {
    this.button.disabled = true;
    try {
      const response = this.running
        ? await fetch('/demo/stop', { method: 'POST' })
        : await fetch('/demo/start', {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ ratePerSecond: Number(this.rate.value) }),
          });
      if (!response.ok) {
        this.statusText.textContent = await errorText(response);
        return;
      }
      this.show((await response.json()) as DemoStatus);
    } catch (error) {
      this.statusText.textContent = (error as Error).message;
    } finally {
      this.button.disabled = false;
    }
  }

  private show(status: DemoStatus): void {
    this.running = status.running;
    this.box.dataset.running = String(status.running);
    this.button.textContent = status.running ? 'Stop demo' : 'Start demo';
    this.statusText.textContent = `${status.running ? `${status.ratePerSecond}/s · ` : ''}${status.published} published${status.failed ? `, ${status.failed} failed` : ''}`;
    if (status.running && !this.poll) {
      this.poll = setInterval(() => void this.refresh(), POLL_MS);
    } else if (!status.running && this.poll) {
      clearInterval(this.poll);
      this.poll = null;
    }
  }

  private async refresh(): Promise<void> {
    const response = await fetch('/demo', { cache: 'no-store' }).catch(
      () => null,
    );
    if (response?.ok) this.show((await response.json()) as DemoStatus);
  }
}
