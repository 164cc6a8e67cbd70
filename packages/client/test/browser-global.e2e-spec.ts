import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { build, Options } from 'tsup';
import configs from '../tsup.config';

jest.setTimeout(120_000);

const CLIENT_DIR = join(__dirname, '..');

/** The browser bundle as the package builds it, into a scratch directory. */
async function buildBrowserBundle(outDir: string): Promise<string> {
  const browser = (configs as Options[]).find((config) =>
    config.format?.includes('iife'),
  )!;
  const cwd = process.cwd();
  process.chdir(CLIENT_DIR);
  try {
    await build({ ...browser, outDir, config: false, silent: true });
  } finally {
    process.chdir(cwd);
  }
  return readFileSync(join(outDir, 'streamgate-client.browser.js'), 'utf8');
}

describe('@streamgate/client/browser', () => {
  let outDir: string;
  let page: Record<string, any>;

  beforeAll(async () => {
    outDir = mkdtempSync(join(tmpdir(), 'streamgate-browser-'));
    const code = await buildBrowserBundle(outDir);
    // A page as far as the bundle looks at load time; nothing connects.
    page = {
      navigator: { userAgent: 'test' },
      location: { protocol: 'https:', hostname: 'app.example.com', port: '' },
      setTimeout,
      clearTimeout,
      console,
      URL,
    };
    page.window = page;
    page.self = page;
    runInNewContext(code, page);
  });
  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  describe('when loaded by a <script> tag', () => {
    it('defines the global StreamgateClient as the class the README shows', () => {
      expect(typeof page.StreamgateClient).toBe('function');
      const client = new page.StreamgateClient({
        url: 'https://api.example.com',
        token: 'token',
      });
      expect(client.state).toBe('idle');
    });

    it('reaches the rest of the API as static properties of the class', () => {
      const global = page.StreamgateClient;
      expect(typeof global.ProcessStreamReader).toBe('function');
      expect(typeof global.sessionStorageCursorStore).toBe('function');
      expect(typeof global.memoryCursorStore).toBe('function');
      expect(typeof global.StreamgateClientError).toBe('function');
      expect(global.CONNECT_ERRORS).toContain('unauthorized');
    });
  });
});
