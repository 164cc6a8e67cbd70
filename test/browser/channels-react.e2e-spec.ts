import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Browser, Page, chromium } from 'playwright-core';
import { EventPublisher } from '@streamgate/server';
import { RunningApp, startApp } from '../support/app';
import { waitFor } from '../support/wait-for';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', '..', 'artifacts');
const ROOM = 'room:1';
const OTHER_ROOM = 'room:2';

const hasChromium = existsSync(CHROMIUM);
// CI must never skip silently: there a missing browser fails the launch instead.
const describeInBrowser =
  hasChromium || process.env.CI ? describe : describe.skip;
if (!hasChromium && !process.env.CI) {
  console.warn(
    `Skipping the React channels browser test: ${CHROMIUM} is missing. Install it with "apt-get install chromium" (CI installs it and never skips).`,
  );
}

/** The page of fixtures/channels-page.ts, bundled with React and the client as an app would. */
async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [join(__dirname, 'fixtures', 'channels-page.ts')],
    tsconfig: join(__dirname, '..', '..', 'tsconfig.json'),
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    target: ['es2020'],
    define: { 'process.env.NODE_ENV': '"development"' },
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

describeInBrowser('The React bindings in a real browser', () => {
  let running: RunningApp;
  let browser: Browser;
  let script: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    [running, script] = await Promise.all([
      startApp({
        REDIS_URL: process.env.REDIS_URL!,
        EVENT_BUS_PREFIX: `react-e2e-${process.pid}-${Date.now()}`,
        EVENT_PRESENCE_CHANNELS: 'room:*',
        EVENT_CLIENT_PUBLISH_CHANNELS: 'room:*',
      }),
      bundlePage(),
    ]);
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
  });

  afterAll(async () => {
    await browser?.close();
    await running?.close();
  });

  /** Opens the page as one user, served from the app's own origin. */
  async function openAs(userId: string, name: string): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    const token = running.token(userId, [ROOM, OTHER_ROOM], 3600, { name });
    // A real answer of the app (its 404) gives the page the app's origin, so the
    // socket is same-origin, and a loopback page to Chromium's network checks.
    await page.goto(`${running.url}/react-channels-test`);
    await page.setContent(
      `<!doctype html><html><body><div id="root"></div>
<script>window.pageConfig = ${JSON.stringify({ token, room: ROOM })};</script>
<script>${script.replace(/<\/script/g, '<\\/script')}</script></body></html>`,
    );
    await page.waitForSelector(
      '[data-testid="messages"][data-subscribed="true"]',
      { state: 'attached' },
    );
    return page;
  }

  const members = (page: Page) =>
    page.$$eval('[data-testid="member"]', (items) =>
      items.map((item) => item.textContent).sort(),
    );
  const messages = (page: Page) =>
    page.$$eval('[data-testid="message"]', (items) =>
      items.map((item) => item.textContent),
    );
  const publish = (scopes: string[], text: string) =>
    running.app
      .get<EventPublisher>(EventPublisher)
      .publish({ type: 'message', data: { text }, scopes });
  const clientChannels = (page: Page) =>
    page.evaluate(
      () =>
        (window as unknown as { client: { channels: string[] | null } }).client
          .channels,
    );
  const appErrors = (page: Page) =>
    page.evaluate(
      () => (window as unknown as { pageErrors: string[] }).pageErrors,
    );

  let ada: Page;
  let bob: Page;

  describe('when two users open the room', () => {
    it('subscribes to the channel, in strict mode too', async () => {
      ada = await openAs('ada', 'Ada');
      bob = await openAs('bob', 'Bob');
      expect(await clientChannels(ada)).toEqual([ROOM]);
      expect(await clientChannels(bob)).toEqual([ROOM]);
    });

    it('lists both users as present on both pages', async () => {
      for (const page of [ada, bob]) {
        await waitFor(
          async () => (await members(page)).join() === 'Ada,Bob',
          'both users in the list',
          5_000,
        );
      }
    });
  });

  describe('when events are published', () => {
    it('shows the events of the subscribed channel and none of another visible one', async () => {
      await publish([OTHER_ROOM], 'not subscribed');
      await publish([ROOM], 'hello room');
      for (const page of [ada, bob]) {
        await waitFor(
          async () => (await messages(page)).length === 1,
          'the room message',
        );
        expect(await messages(page)).toEqual(['hello room']);
      }
    });
  });

  describe('when a user types', () => {
    it('delivers the ephemeral typing event to the others, from that user', async () => {
      await bob.click('[data-testid="type"]');
      await ada.waitForSelector('[data-testid="typing-line"]', {
        timeout: 5_000,
      });
      await expect(
        ada.textContent('[data-testid="typing-line"]'),
      ).resolves.toBe('bob: is typing');
      // Not echoed to the sender, and never into the log-backed message list.
      await new Promise((r) => setTimeout(r, 200));
      expect(await bob.$$('[data-testid="typing-line"]')).toHaveLength(0);
      expect(await messages(ada)).toEqual(['hello room']);
    });
  });

  describe('when one of two components on the channel unmounts', () => {
    it('keeps the subscription for the other', async () => {
      await ada.click('[data-testid="toggle-sidebar"]');
      await expect(ada.$('[data-testid="sidebar"]')).resolves.toBeNull();
      await new Promise((r) => setTimeout(r, 200));
      expect(await clientChannels(ada)).toEqual([ROOM]);
      await publish([ROOM], 'still here');
      await waitFor(
        async () => (await messages(ada)).length === 2,
        'the message after the unmount',
      );
      expect(await messages(ada)).toEqual(['hello room', 'still here']);
    });
  });

  describe('when a user leaves', () => {
    it('takes them out of the others’ list', async () => {
      await bob.context().close();
      await waitFor(
        async () => (await members(ada)).join() === 'Ada',
        'Bob to leave the list',
        5_000,
      );
      mkdirSync(ARTIFACTS, { recursive: true });
      await ada.screenshot({ path: join(ARTIFACTS, 'react-channels.png') });
      expect(pageErrors).toEqual([]);
    });

    it('reported no error to the app', async () => {
      expect(await appErrors(ada)).toEqual([]);
    });
  });
});
