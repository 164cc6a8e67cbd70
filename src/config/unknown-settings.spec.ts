import { APP_SETTING_NAMES } from './app.config';
import {
  editDistance,
  nearestName,
  unknownSettingWarnings,
} from './unknown-settings';

describe('unknownSettingWarnings', () => {
  it('knows every variable of the schema', () => {
    expect(APP_SETTING_NAMES).toEqual(
      expect.arrayContaining([
        'EVENT_STREAM_MAXLEN',
        'EVENT_HANDSHAKE_RATE_LIMIT',
        'REDIS_URL',
        'REDIS_COMMAND_TIMEOUT_MS',
      ]),
    );
  });

  describe('when a variable with a checked prefix is misspelt', () => {
    it('warns once for it, naming the nearest known variable', () => {
      expect(
        unknownSettingWarnings(
          { EVENT_STREAM_MAXLN: '5', REDIS_UR: 'redis://x' },
          APP_SETTING_NAMES,
        ),
      ).toEqual([
        'EVENT_STREAM_MAXLN is set but is not a setting of this app, so it is ignored; did you mean EVENT_STREAM_MAXLEN? (Check the spelling, or whether this version has that setting.)',
        'REDIS_UR is set but is not a setting of this app, so it is ignored; did you mean REDIS_URL? (Check the spelling, or whether this version has that setting.)',
      ]);
    });

    it('names the misspelt name itself when it is known, else the nearest known one', () => {
      const known = ['EVENT_SHARDS', 'EVENT_BUS_PREFIX'];
      expect(nearestName('EVENT_SHRADS', known)).toBe('EVENT_SHARDS');
      expect(nearestName('EVENT_SHRADS', APP_SETTING_NAMES)).not.toBe(
        'EVENT_SHARDS',
      );
      expect(nearestName('EVENT_PARTITONS', APP_SETTING_NAMES)).toBe(
        'EVENT_PARTITIONS',
      );
      expect(
        unknownSettingWarnings({ EVENT_PARTITONS: '16' }, APP_SETTING_NAMES),
      ).toHaveLength(1);
    });
  });

  it('warns for every checked prefix: EVENT_, REDIS_, SSE_ and AUTH_', () => {
    const warnings = unknownSettingWarnings(
      {
        EVENT_X: '1',
        REDIS_X: '1',
        SSE_X: '1',
        AUTH_REVOCATION_MAX_STALENESS_MSS: '1',
      },
      APP_SETTING_NAMES,
    );
    expect(warnings.map((w) => w.split(' ')[0])).toEqual([
      'AUTH_REVOCATION_MAX_STALENESS_MSS',
      'EVENT_X',
      'REDIS_X',
      'SSE_X',
    ]);
  });

  it('leaves known, unset and other variables alone', () => {
    expect(
      unknownSettingWarnings(
        {
          EVENT_STREAM_MAXLEN: '5',
          REDIS_URL: 'redis://x',
          EVENT_TYPO: undefined,
          PATH: '/bin',
          HOSTNAME: 'node-1',
          NODE_OPTIONS: '--x',
        },
        APP_SETTING_NAMES,
      ),
    ).toEqual([]);
  });

  it('measures edit distance', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });
});
