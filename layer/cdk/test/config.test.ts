import { Duration, SecretValue } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import {
  ExportTarget,
  Leakwatch,
  LeakwatchConfiguration,
  LogLevel,
  OtlpCompression,
  PeakMethod,
  renderEnvironment,
} from '../src';
import { arnLayer, leakwatchVariables, newFunction, newStack } from './fixtures';

/** Each setting alone, and the one variable it must set. */
const EACH_SETTING: [string, LeakwatchConfiguration, { [name: string]: string }][] = [
  ['exportTo', { exportTo: ExportTarget.BOTH }, { LEAKWATCH_EXPORT: 'both' }],
  ['namespace', { namespace: 'Team/Memory' }, { LEAKWATCH_NAMESPACE: 'Team/Memory' }],
  ['versionDimension', { versionDimension: true }, { LEAKWATCH_VERSION_DIMENSION: 'true' }],
  ['versionDimension false', { versionDimension: false }, { LEAKWATCH_VERSION_DIMENSION: 'false' }],
  ['peakMethod', { peakMethod: PeakMethod.SAMPLED }, { LEAKWATCH_PEAK_METHOD: 'sampled' }],
  ['samplerInterval', { samplerInterval: Duration.millis(20) }, { LEAKWATCH_SAMPLER_INTERVAL_MS: '20' }],
  ['logLevel', { logLevel: LogLevel.DEBUG }, { LEAKWATCH_LOG_LEVEL: 'debug' }],
  ['telemetry', { telemetry: false }, { LEAKWATCH_TELEMETRY: 'false' }],
  ['telemetryPort', { telemetryPort: 4300 }, { LEAKWATCH_TELEMETRY_PORT: '4300' }],
  ['telemetryMaxItems', { telemetryMaxItems: 2000 }, { LEAKWATCH_TELEMETRY_MAX_ITEMS: '2000' }],
  ['telemetryMaxBytes', { telemetryMaxBytes: 524288 }, { LEAKWATCH_TELEMETRY_MAX_BYTES: '524288' }],
  ['telemetryTimeout', { telemetryTimeout: Duration.seconds(1) }, { LEAKWATCH_TELEMETRY_TIMEOUT_MS: '1000' }],
  ['reportWaitInvocations', { reportWaitInvocations: 6 }, { LEAKWATCH_REPORT_WAIT_INVOCATIONS: '6' }],
  ['recycleHorizon', { recycleHorizon: Duration.hours(6) }, { LEAKWATCH_RECYCLE_HORIZON_MINUTES: '360' }],
  ['recycleHorizon fractional', { recycleHorizon: Duration.seconds(90) }, { LEAKWATCH_RECYCLE_HORIZON_MINUTES: '1.5' }],
  ['warmupInvocations', { warmupInvocations: 0 }, { LEAKWATCH_WARMUP_INVOCATIONS: '0' }],
  ['restoreWarmupInvocations', { restoreWarmupInvocations: 50 }, { LEAKWATCH_RESTORE_WARMUP_INVOCATIONS: '50' }],
  ['interval', { interval: Duration.seconds(30) }, { LEAKWATCH_INTERVAL_MS: '30000' }],
  ['otlp.endpoint', { otlp: { endpoint: 'https://otlp.example.com' } }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example.com' }],
  [
    'otlp.metricsEndpoint',
    { otlp: { metricsEndpoint: 'https://otlp.example.com/m' } },
    { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://otlp.example.com/m' },
  ],
  [
    'otlp.headers',
    { otlp: { headers: { 'x-api-key': 'a,b=c%d é', 'x-team': 'mem' } } },
    { OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=a%2Cb%3Dc%25d%20%C3%A9,x-team=mem' },
  ],
  ['otlp.compression', { otlp: { compression: OtlpCompression.GZIP } }, { OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip' }],
  ['otlp.timeout', { otlp: { timeout: Duration.seconds(5) } }, { OTEL_EXPORTER_OTLP_TIMEOUT: '5000' }],
  ['otlp.serviceName', { otlp: { serviceName: 'orders' } }, { OTEL_SERVICE_NAME: 'orders' }],
  [
    'otlp.resourceAttributes',
    { otlp: { resourceAttributes: { 'deployment.environment': 'prod', team: 'a b' } } },
    { OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=a%20b' },
  ],
];

describe('configuration', () => {
  test('nothing set: no variable, leakwatch keeps its defaults', () => {
    const stack = newStack();
    new Leakwatch(stack, 'Leakwatch', { layer: arnLayer() }).addFunction(newFunction(stack, 'Fn'));
    assert.deepEqual(leakwatchVariables(Template.fromStack(stack), 'Fn'), {});
  });

  for (const [name, config, expected] of EACH_SETTING) {
    test(`${name}: sets ${Object.keys(expected).join(', ')} and nothing else`, () => {
      const stack = newStack();
      new Leakwatch(stack, 'Leakwatch', { layer: arnLayer(), ...config }).addFunction(newFunction(stack, 'Fn'));
      assert.deepEqual(leakwatchVariables(Template.fromStack(stack), 'Fn'), expected);
    });
  }

  test('every setting at once, on every function added; their own variables stay', () => {
    const stack = newStack();
    // one value per variable: the variants (" false", " fractional") are left out
    const settings = EACH_SETTING.filter(([name]) => !name.includes(' '));
    const config: LeakwatchConfiguration = Object.assign({}, ...settings.map(([, c]) => c), {
      otlp: Object.assign({}, ...settings.map(([, c]) => c.otlp ?? {})),
    });
    const expected = Object.assign({}, ...settings.map(([, , e]) => e));
    const a = newFunction(stack, 'A', undefined, { environment: { TABLE: 'orders' } });
    const b = newFunction(stack, 'B');
    const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: arnLayer(), ...config });
    leakwatch.addFunction(a);
    leakwatch.addFunction(b);
    const template = Template.fromStack(stack);
    assert.deepEqual(leakwatchVariables(template, 'A'), expected);
    assert.deepEqual(leakwatchVariables(template, 'B'), expected);
    assert.equal(Object.keys(expected).length, 23);
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { TABLE: 'orders' } } });
  });

  test('a header value from a secret is passed for the deploy to resolve, not encoded', () => {
    const stack = newStack();
    const secret = SecretValue.secretsManager('otlp-key').unsafeUnwrap();
    new Leakwatch(stack, 'Leakwatch', { layer: arnLayer(), otlp: { headers: { 'x-api-key': secret } } }).addFunction(
      newFunction(stack, 'Fn'),
    );
    const value = JSON.stringify(leakwatchVariables(Template.fromStack(stack), 'Fn').OTEL_EXPORTER_OTLP_HEADERS);
    assert.match(value, /x-api-key=/);
    assert.match(value, /\{\{resolve:secretsmanager:otlp-key:SecretString:::\}\}/);
  });
});

describe('values leakwatch would refuse are refused at synthesis', () => {
  const REFUSED: [string, LeakwatchConfiguration, RegExp][] = [
    ['namespace with a space', { namespace: 'My Metrics' }, /namespace "My Metrics"/],
    ['namespace of AWS', { namespace: 'AWS/Lambda' }, /namespace "AWS\/Lambda"/],
    ['empty namespace', { namespace: '' }, /namespace ""/],
    ['namespace too long', { namespace: 'n'.repeat(257) }, /namespace/],
    ['samplerInterval 0', { samplerInterval: Duration.millis(0) }, /samplerInterval must be .* from 1 to 1000/],
    ['samplerInterval 2 s', { samplerInterval: Duration.seconds(2) }, /samplerInterval/],
    ['telemetryPort 9001', { telemetryPort: 9001 }, /9001 is reserved by Lambda/],
    ['telemetryPort 80', { telemetryPort: 80 }, /telemetryPort must be a whole number from 1024 to 65535/],
    ['telemetryPort 4300.5', { telemetryPort: 4300.5 }, /telemetryPort/],
    ['telemetryMaxItems 999', { telemetryMaxItems: 999 }, /telemetryMaxItems/],
    ['telemetryMaxItems 10001', { telemetryMaxItems: 10001 }, /telemetryMaxItems/],
    ['telemetryMaxBytes 1000', { telemetryMaxBytes: 1000 }, /telemetryMaxBytes/],
    ['telemetryTimeout 10 ms', { telemetryTimeout: Duration.millis(10) }, /telemetryTimeout/],
    ['telemetryTimeout 31 s', { telemetryTimeout: Duration.seconds(31) }, /telemetryTimeout/],
    ['reportWaitInvocations 0', { reportWaitInvocations: 0 }, /reportWaitInvocations/],
    ['reportWaitInvocations 11', { reportWaitInvocations: 11 }, /reportWaitInvocations/],
    ['recycleHorizon 30 s', { recycleHorizon: Duration.seconds(30) }, /recycleHorizon must be from 1 minute to 7 days/],
    ['recycleHorizon 8 days', { recycleHorizon: Duration.days(8) }, /recycleHorizon/],
    ['warmupInvocations -1', { warmupInvocations: -1 }, /warmupInvocations/],
    ['warmupInvocations 1001', { warmupInvocations: 1001 }, /warmupInvocations/],
    ['restoreWarmupInvocations 1001', { restoreWarmupInvocations: 1001 }, /restoreWarmupInvocations/],
    ['interval 50 ms', { interval: Duration.millis(50) }, /interval must be .* from 100 to 3600000/],
    ['interval 2 hours', { interval: Duration.hours(2) }, /interval/],
    ['otlp.timeout 0', { otlp: { timeout: Duration.millis(0) } }, /otlp.timeout/],
    ['otlp.timeout 11 minutes', { otlp: { timeout: Duration.minutes(11) } }, /otlp.timeout/],
    [
      'nine otlp headers',
      { otlp: { headers: Object.fromEntries([...Array(9).keys()].map((i) => [`h${i}`, 'v'])) } },
      /at most 8 headers/,
    ],
    ['an otlp header name with a space', { otlp: { headers: { 'x key': 'v' } } }, /"x key" is not a valid name/],
  ];
  for (const [name, config, message] of REFUSED) {
    test(name, () => {
      assert.throws(() => renderEnvironment(config), message);
      const stack = newStack();
      assert.throws(() => new Leakwatch(stack, 'Leakwatch', { layer: arnLayer(), ...config }), message);
    });
  }

  test('the limits themselves are accepted', () => {
    assert.doesNotThrow(() =>
      renderEnvironment({
        namespace: 'n'.repeat(256),
        samplerInterval: Duration.millis(1000),
        telemetryPort: 65535,
        telemetryMaxItems: 10000,
        telemetryMaxBytes: 1048576,
        telemetryTimeout: Duration.millis(25),
        reportWaitInvocations: 10,
        recycleHorizon: Duration.days(7),
        warmupInvocations: 1000,
        restoreWarmupInvocations: 0,
        interval: Duration.hours(1),
        otlp: { timeout: Duration.minutes(10) },
      }),
    );
  });
});
