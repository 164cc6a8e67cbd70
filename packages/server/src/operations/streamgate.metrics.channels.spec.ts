import { StreamgateMetrics } from './streamgate.metrics';

describe('StreamgateMetrics for channels', () => {
  describe('when ephemeral events and presence changes are observed', () => {
    it('counts publishes, drops by reason, joins, leaves and failures by operation', async () => {
      const metrics = new StreamgateMetrics({ defaultMetrics: false });
      const { observer } = metrics;
      observer.ephemeralPublished?.(3);
      observer.ephemeralDropped?.(2, 'publish_failed');
      observer.presenceChanged?.(2, 1);
      observer.presenceChanged?.(0, 1);
      observer.presenceFailed?.('renew');
      const text = await metrics.registry.metrics();
      expect(text).toMatch(/^streamgate_ephemeral_published_total 3$/m);
      expect(text).toMatch(
        /^streamgate_ephemeral_dropped_total\{reason="publish_failed"\} 2$/m,
      );
      expect(text).toMatch(/^streamgate_presence_joins_total 2$/m);
      expect(text).toMatch(/^streamgate_presence_leaves_total 2$/m);
      expect(text).toMatch(
        /^streamgate_presence_failures_total\{operation="renew"\} 1$/m,
      );
    });
  });
});
