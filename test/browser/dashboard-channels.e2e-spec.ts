import { existsSync } from 'node:fs';
import { Browser, Page, chromium } from 'playwright-core';
import { EventPublisher } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { waitFor } from '../support/wait-for';

const CHROMIUM = '/usr/bin/chromium';
const USER = 'dashboard-channels';

const hasChromium = existsSync(CHROMIUM);
// CI must never skip silently: there a missing browser fails the launch instead.
const describeInBrowser =
  hasChromium || process.env.CI ? describe : describe.skip;

describeInBrowser('The dashboard’s channel picker in a real browser', () => {
  let running: RunningApp;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    running = await startApp({
      REDIS_URL: process.env.REDIS_URL!,
      EVENT_BUS_PREFIX: `dashboard-ch-${process.pid}-${Date.now()}`,
      EVENT_PRESENCE_CHANNELS: 'agent:*',
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await (await browser.newContext()).newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
  });

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  const feedTexts = () =>
    page.$$eval('[data-testid="feed-row"]', (rows) =>
      rows.map((row) => row.textContent ?? ''),
    );
  const publish = (agent: string, summary: string) =>
    running.app.get<EventPublisher>(EventPublisher).publish({
      type: 'agent_activity',
      data: { agent, action: 'file_edit', summary },
      scopes: [`agent:${agent}`],
    });

  it('starts unfiltered', async () => {
    await page.goto(`${running.url}/?sub=${USER}&transport=websocket`);
    await page.waitForSelector(
      '[data-testid="connection-state"][data-state="live"]',
    );
    await page.waitForSelector('[data-testid="channels-unfiltered"]');
  });

  it('subscribes to a picked channel and shows who is present in it', async () => {
    await page.fill('[data-testid="channel-input"]', 'agent:coder');
    await page.click('[data-testid="channel-subscribe"]');
    await page.waitForSelector(
      '[data-testid="channel"][data-channel="agent:coder"]',
    );
    await page.waitForSelector(
      `[data-channel="agent:coder"] [data-testid="member"][data-user="${USER}"]`,
    );
    await expect(
      page.textContent('[data-testid="channel-status"]'),
    ).resolves.toMatch(/^Subscribed at /);
  });

  it('shows only the events of the picked channel', async () => {
    await publish('tester', 'not picked');
    await publish('coder', 'picked');
    await waitFor(
      async () => (await feedTexts()).some((t) => t.includes('picked')),
      'the picked channel’s event',
    );
    await new Promise((r) => setTimeout(r, 200));
    const texts = await feedTexts();
    expect(texts.filter((t) => t.includes('not picked'))).toEqual([]);
    expect(texts.filter((t) => t.includes('picked'))).toHaveLength(1);
  });

  it('unsubscribes with the channel’s button', async () => {
    await page.click(
      '[data-channel="agent:coder"] [data-testid="channel-remove"]',
    );
    await page.waitForSelector('[data-testid="channels-unfiltered"]');
    await expect(
      page.getAttribute('[data-testid="channel-list"]', 'data-channels'),
    ).resolves.toBe('');
    expect(pageErrors).toEqual([]);
  });
});
