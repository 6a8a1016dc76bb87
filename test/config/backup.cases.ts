import { ENVIRONMENTS } from '../../lib/config/environments';
import { findConfigProblems, validateEnvironmentConfig } from '../../lib/config/validate';
import { configWith } from '../support/app';

const { dev, prod } = ENVIRONMENTS;
const refused = (base: typeof dev, change: (c: any) => void) => () => validateEnvironmentConfig(configWith(base, change));

describe('disasterRecovery.backup', () => {
  test('dev backs up for a week with a week of DR copies; prod for 35 days, copies for 90, both vaults locked in compliance mode', () => {
    expect(dev.disasterRecovery.backup).toEqual({ continuousRetentionDays: 7, drCopy: { retentionDays: 7 } });
    expect(prod.disasterRecovery.backup).toEqual({
      continuousRetentionDays: 35,
      drCopy: { retentionDays: 90 },
      vaultLock: { minRetentionDays: 7, maxRetentionDays: 365, changeableForDays: 7 },
    });
  });

  test.each<[string, (c: any) => void]>([
    ['no backup at all', (c) => delete c.disasterRecovery.backup],
    ['no DR copy, and then no replication (nor failover) either', (c) => { delete c.disasterRecovery.backup.drCopy; delete c.disasterRecovery.failover; c.disasterRecovery.replication = false; }],
    ['a lock in governance mode (no changeableForDays)', (c) => delete c.disasterRecovery.backup.vaultLock.changeableForDays],
    ['retentions on the lock\u2019s bounds', (c) => (c.disasterRecovery.backup = { continuousRetentionDays: 7, drCopy: { retentionDays: 365 }, vaultLock: { minRetentionDays: 7, maxRetentionDays: 365 } })],
  ])('accepts %s', (_what, change) => {
    expect(findConfigProblems(configWith(prod, change))).toEqual([]);
  });

  test.each<[string, typeof dev, (c: any) => void, RegExp]>([
    ['a null backup', dev, (c) => (c.disasterRecovery.backup = null), /^- disasterRecovery\.backup: got null; allowed: an object with continuousRetentionDays, drCopy, vaultLock$/m],
    ['an unknown key', dev, (c) => (c.disasterRecovery.backup.retentionDays = 7), /^- disasterRecovery\.backup\.retentionDays: unknown key; allowed: continuousRetentionDays, drCopy, vaultLock$/m],
    ['no point-in-time window', dev, (c) => delete c.disasterRecovery.backup.continuousRetentionDays, /^- disasterRecovery\.backup\.continuousRetentionDays: missing; allowed: a whole number of days from 1 to 35 \(AWS Backup's limit for continuous backups\)$/m],
    ['a point-in-time window of 0 days', dev, (c) => (c.disasterRecovery.backup.continuousRetentionDays = 0), /^- disasterRecovery\.backup\.continuousRetentionDays: got 0; allowed: a whole number of days from 1 to 35 \(AWS Backup's limit for continuous backups\)$/m],
    ['a point-in-time window beyond 35 days', dev, (c) => (c.disasterRecovery.backup.continuousRetentionDays = 36), /^- disasterRecovery\.backup\.continuousRetentionDays: got 36; allowed: a whole number of days from 1 to 35/m],
    ['a fraction of a day', dev, (c) => (c.disasterRecovery.backup.continuousRetentionDays = 7.5), /^- disasterRecovery\.backup\.continuousRetentionDays: got 7\.5; allowed: a whole number of days from 1 to 35/m],
    ['days as text', dev, (c) => (c.disasterRecovery.backup.continuousRetentionDays = '7'), /^- disasterRecovery\.backup\.continuousRetentionDays: got "7"; allowed: a whole number of days from 1 to 35/m],
    ['a DR copy kept 0 days', dev, (c) => (c.disasterRecovery.backup.drCopy.retentionDays = 0), /^- disasterRecovery\.backup\.drCopy\.retentionDays: got 0; allowed: a whole number of days from 1 to 36500$/m],
    ['a DR copy kept beyond 100 years', dev, (c) => (c.disasterRecovery.backup.drCopy.retentionDays = 36501), /^- disasterRecovery\.backup\.drCopy\.retentionDays: got 36501; allowed: a whole number of days from 1 to 36500$/m],
    ['an unknown key of the DR copy', dev, (c) => (c.disasterRecovery.backup.drCopy.region = 'us-west-2'), /^- disasterRecovery\.backup\.drCopy\.region: unknown key; allowed: retentionDays$/m],
    [
      'a DR copy without the DR stack',
      dev,
      (c) => (c.disasterRecovery.replication = false),
      /^- disasterRecovery\.backup\.drCopy: got \{"retentionDays":7\}; needs disasterRecovery\.replication true: the DR vault is in the DR stack, which exists only with replication; allowed: omit drCopy or turn replication on$/m,
    ],
    ['a lock minimum of 0 days', prod, (c) => (c.disasterRecovery.backup.vaultLock.minRetentionDays = 0), /^- disasterRecovery\.backup\.vaultLock\.minRetentionDays: got 0; allowed: a whole number of days from 1 to 36500$/m],
    ['a lock maximum beyond 100 years', prod, (c) => (c.disasterRecovery.backup.vaultLock.maxRetentionDays = 36501), /^- disasterRecovery\.backup\.vaultLock\.maxRetentionDays: got 36501; allowed: a whole number of days from 1 to 36500$/m],
    ['a lock without a maximum', prod, (c) => delete c.disasterRecovery.backup.vaultLock.maxRetentionDays, /^- disasterRecovery\.backup\.vaultLock\.maxRetentionDays: missing; allowed: a whole number of days from 1 to 36500$/m],
    [
      'a grace period shorter than the 72-hour cooling-off',
      prod,
      (c) => (c.disasterRecovery.backup.vaultLock.changeableForDays = 2),
      /^- disasterRecovery\.backup\.vaultLock\.changeableForDays: got 2; allowed: a whole number of days from 3 \(AWS Backup's 72-hour cooling-off period\) to 36500$/m,
    ],
    ['an unknown key of the lock', prod, (c) => (c.disasterRecovery.backup.vaultLock.mode = 'compliance'), /^- disasterRecovery\.backup\.vaultLock\.mode: unknown key; allowed: minRetentionDays, maxRetentionDays, changeableForDays$/m],
    [
      'a lock minimum above its maximum',
      prod,
      (c) => (c.disasterRecovery.backup.vaultLock.minRetentionDays = 400),
      /^- disasterRecovery\.backup\.vaultLock: got \{"minRetentionDays":400,"maxRetentionDays":365,"changeableForDays":7\}; allowed: minRetentionDays \(400\) at most maxRetentionDays \(365\)$/m,
    ],
    [
      'a point-in-time window shorter than the lock allows',
      prod,
      (c) => (c.disasterRecovery.backup.continuousRetentionDays = 5),
      /^- disasterRecovery\.backup\.continuousRetentionDays: got 5; allowed: from vaultLock\.minRetentionDays \(7\) to vaultLock\.maxRetentionDays \(365\): the locked vault fails jobs kept for less or longer$/m,
    ],
    [
      'a point-in-time window longer than the lock allows',
      prod,
      (c) => (c.disasterRecovery.backup.vaultLock.maxRetentionDays = 30),
      /^- disasterRecovery\.backup\.continuousRetentionDays: got 35; allowed: from vaultLock\.minRetentionDays \(7\) to vaultLock\.maxRetentionDays \(30\)/m,
    ],
    [
      'a DR copy kept longer than the lock allows',
      prod,
      (c) => (c.disasterRecovery.backup.drCopy.retentionDays = 400),
      /^- disasterRecovery\.backup\.drCopy\.retentionDays: got 400; allowed: from vaultLock\.minRetentionDays \(7\) to vaultLock\.maxRetentionDays \(365\)/m,
    ],
    [
      'a DR copy kept shorter than the lock allows',
      prod,
      (c) => (c.disasterRecovery.backup.drCopy.retentionDays = 3),
      /^- disasterRecovery\.backup\.drCopy\.retentionDays: got 3; allowed: from vaultLock\.minRetentionDays \(7\) to vaultLock\.maxRetentionDays \(365\)/m,
    ],
  ])('refuses %s, naming the key, the value and what is allowed', (_what, base, change, message) => {
    expect(refused(base, change)).toThrow(message);
  });

  test('a lock shorter than both retentions reports each of them', () => {
    const problems = findConfigProblems(configWith(prod, (c) => (c.disasterRecovery.backup.vaultLock.maxRetentionDays = 30)));
    expect(problems.map((p) => p.split(':')[0])).toEqual(['disasterRecovery.backup.continuousRetentionDays', 'disasterRecovery.backup.drCopy.retentionDays']);
  });
});
