import { Duration, Token, Tokenization } from 'aws-cdk-lib';

/** Where leakwatch sends its records (`LEAKWATCH_EXPORT`). */
export enum ExportTarget {
  /** CloudWatch embedded metric format lines on stdout. */
  EMF = 'emf',
  /** OTLP/HTTP to an OpenTelemetry collector only. */
  OTLP = 'otlp',
  /** Both. */
  BOTH = 'both',
  /** Neither: the verdict and alert lines only. */
  NONE = 'none',
}

/** How the peak of an invocation is measured (`LEAKWATCH_PEAK_METHOD`). */
export enum PeakMethod {
  /** The kernel's high-water mark, the sampler where the kernel refuses to reset it. */
  AUTO = 'auto',
  /** The kernel's high-water mark only. */
  HWM = 'hwm',
  /** The sampler only. */
  SAMPLED = 'sampled',
}

/** leakwatch's own log level (`LEAKWATCH_LOG_LEVEL`). */
export enum LogLevel {
  DEBUG = 'debug',
  INFO = 'info',
  WARN = 'warn',
  ERROR = 'error',
  OFF = 'off',
}

/** Compression of OTLP request bodies (`OTEL_EXPORTER_OTLP_COMPRESSION`). */
export enum OtlpCompression {
  GZIP = 'gzip',
  NONE = 'none',
}

/**
 * OTLP/HTTP export to an OpenTelemetry collector. Setting an endpoint turns the export on
 * (`both` unless `exportTo` says otherwise).
 */
export interface OtlpOptions {
  /** Base URL; metrics go to `<endpoint>/v1/metrics` (`OTEL_EXPORTER_OTLP_ENDPOINT`). */
  readonly endpoint?: string;
  /** Full metrics URL, used as it is; wins over `endpoint` (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`). */
  readonly metricsEndpoint?: string;
  /**
   * Request headers (`OTEL_EXPORTER_OTLP_HEADERS`), at most 8. Values are percent-encoded here;
   * a token (e.g. `SecretValue.secretsManager(...).unsafeUnwrap()`) is passed as it is. The value
   * is readable in the function's configuration.
   */
  readonly headers?: { readonly [name: string]: string };
  /** `OTEL_EXPORTER_OTLP_COMPRESSION`. */
  readonly compression?: OtlpCompression;
  /** Time for one export, retries included (`OTEL_EXPORTER_OTLP_TIMEOUT`). */
  readonly timeout?: Duration;
  /** `service.name` of the resource (`OTEL_SERVICE_NAME`); leakwatch uses the function's name. */
  readonly serviceName?: string;
  /** Extra resource attributes (`OTEL_RESOURCE_ATTRIBUTES`), values percent-encoded here. */
  readonly resourceAttributes?: { readonly [key: string]: string };
}

/**
 * leakwatch's settings, each the environment variable of the same meaning. A setting left out
 * sets no variable, so leakwatch's own default applies.
 */
export interface LeakwatchConfiguration {
  /** `LEAKWATCH_EXPORT`. */
  readonly exportTo?: ExportTarget;
  /**
   * CloudWatch namespace of the metrics (`LEAKWATCH_NAMESPACE`); the alarms and the dashboard
   * read the same one. leakwatch's default is `Leakwatch`.
   */
  readonly namespace?: string;
  /** Also publish every metric under `[FunctionName, FunctionVersion]` (`LEAKWATCH_VERSION_DIMENSION`). */
  readonly versionDimension?: boolean;
  /** `LEAKWATCH_PEAK_METHOD`. */
  readonly peakMethod?: PeakMethod;
  /** Interval of the fallback peak sampler, 1 to 1000 ms (`LEAKWATCH_SAMPLER_INTERVAL_MS`). */
  readonly samplerInterval?: Duration;
  /** `LEAKWATCH_LOG_LEVEL`. */
  readonly logLevel?: LogLevel;
  /** Subscribe to the Telemetry API (`LEAKWATCH_TELEMETRY`). */
  readonly telemetry?: boolean;
  /** Telemetry listener port, 1024 to 65535 but not 9001 (`LEAKWATCH_TELEMETRY_PORT`). */
  readonly telemetryPort?: number;
  /** Telemetry buffering, 1000 to 10000 events (`LEAKWATCH_TELEMETRY_MAX_ITEMS`). */
  readonly telemetryMaxItems?: number;
  /** Telemetry buffering, 262144 to 1048576 bytes (`LEAKWATCH_TELEMETRY_MAX_BYTES`). */
  readonly telemetryMaxBytes?: number;
  /** Telemetry buffering, 25 ms to 30 s (`LEAKWATCH_TELEMETRY_TIMEOUT_MS`). */
  readonly telemetryTimeout?: Duration;
  /** Invocation boundaries a record waits for its `platform.report`, 1 to 10 (`LEAKWATCH_REPORT_WAIT_INVOCATIONS`). */
  readonly reportWaitInvocations?: number;
  /**
   * Expected lifetime of an environment, 1 minute to 7 days: a leak that runs out of memory
   * sooner is leak-critical (`LEAKWATCH_RECYCLE_HORIZON_MINUTES`).
   */
  readonly recycleHorizon?: Duration;
  /** Invocations the trend engine leaves out at the start of an environment, 0 to 1000 (`LEAKWATCH_WARMUP_INVOCATIONS`). */
  readonly warmupInvocations?: number;
  /** SnapStart: invocations left out after a restore, 0 to 1000 (`LEAKWATCH_RESTORE_WARMUP_INVOCATIONS`). */
  readonly restoreWarmupInvocations?: number;
  /** Lambda Managed Instances: how often a reading is taken, 100 ms to 1 hour (`LEAKWATCH_INTERVAL_MS`). */
  readonly interval?: Duration;
  /** OTLP/HTTP export (`OTEL_*` variables). */
  readonly otlp?: OtlpOptions;
}

/** The namespace leakwatch writes to when `LEAKWATCH_NAMESPACE` is not set. */
export const DEFAULT_NAMESPACE = 'Leakwatch';
/** leakwatch's default recycle horizon, in minutes. */
export const DEFAULT_RECYCLE_HORIZON_MINUTES = 120;

const NAMESPACE_PATTERN = /^[A-Za-z0-9._#:/-]{1,256}$/;
const HEADER_NAME_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const LAMBDA_RESERVED_PORT = 9001;
const MAX_OTLP_HEADERS = 8;
const MAX_OTLP_TIMEOUT_MS = 600000;

function fail(message: string): never {
  throw new Error(`leakwatch: ${message}`);
}

/** A whole number within [min, max]; tokens are passed on unchecked. */
function integer(name: string, value: number, min: number, max: number): string {
  if (!Token.isUnresolved(value)) {
    if (!Number.isInteger(value) || value < min || value > max) {
      fail(`${name} must be a whole number from ${min} to ${max}, got ${value}`);
    }
  }
  return Tokenization.stringifyNumber(value);
}

function milliseconds(name: string, value: Duration, min: number, max: number): string {
  const ms = value.toMilliseconds();
  if (!Number.isInteger(ms) || ms < min || ms > max) {
    fail(`${name} must be a whole number of milliseconds from ${min} to ${max}, got ${value.toString()}`);
  }
  return String(ms);
}

/** Percent-encodes a value of a `key=value,...` list; a token is left for the deploy to resolve. */
function encodeListValue(value: string): string {
  return Token.isUnresolved(value) ? value : encodeURIComponent(value);
}

function keyValueList(name: string, entries: { readonly [key: string]: string }, keyPattern: RegExp): string | undefined {
  const keys = Object.keys(entries);
  if (keys.length === 0) return undefined;
  return keys
    .map((key) => {
      if (!keyPattern.test(key)) fail(`${name}: "${key}" is not a valid name`);
      return `${key}=${encodeListValue(entries[key])}`;
    })
    .join(',');
}

/** Checks a namespace as leakwatch does; a token is passed on unchecked. */
export function validateNamespace(namespace: string): void {
  if (Token.isUnresolved(namespace)) return;
  if (!NAMESPACE_PATTERN.test(namespace) || namespace.startsWith('AWS/')) {
    fail(
      `namespace "${namespace}" is not a CloudWatch namespace leakwatch accepts ` +
        '(1 to 256 of A-Z a-z 0-9 . _ # : / -, not starting with AWS/)',
    );
  }
}

/**
 * The environment variables for a configuration: one for each setting given, none for the others.
 * Throws on a value leakwatch would refuse, so that the mistake shows at synthesis instead of as
 * a warning line in the function's log.
 */
export function renderEnvironment(config: LeakwatchConfiguration): { [name: string]: string } {
  const env: { [name: string]: string } = {};
  const set = (name: string, value: string | undefined) => {
    if (value !== undefined) env[name] = value;
  };

  set('LEAKWATCH_EXPORT', config.exportTo);
  if (config.namespace !== undefined) {
    validateNamespace(config.namespace);
    env.LEAKWATCH_NAMESPACE = config.namespace;
  }
  if (config.versionDimension !== undefined) env.LEAKWATCH_VERSION_DIMENSION = String(config.versionDimension);
  set('LEAKWATCH_PEAK_METHOD', config.peakMethod);
  if (config.samplerInterval !== undefined) {
    env.LEAKWATCH_SAMPLER_INTERVAL_MS = milliseconds('samplerInterval', config.samplerInterval, 1, 1000);
  }
  set('LEAKWATCH_LOG_LEVEL', config.logLevel);
  if (config.telemetry !== undefined) env.LEAKWATCH_TELEMETRY = String(config.telemetry);
  if (config.telemetryPort !== undefined) {
    if (config.telemetryPort === LAMBDA_RESERVED_PORT) fail(`telemetryPort ${LAMBDA_RESERVED_PORT} is reserved by Lambda`);
    env.LEAKWATCH_TELEMETRY_PORT = integer('telemetryPort', config.telemetryPort, 1024, 65535);
  }
  if (config.telemetryMaxItems !== undefined) {
    env.LEAKWATCH_TELEMETRY_MAX_ITEMS = integer('telemetryMaxItems', config.telemetryMaxItems, 1000, 10000);
  }
  if (config.telemetryMaxBytes !== undefined) {
    env.LEAKWATCH_TELEMETRY_MAX_BYTES = integer('telemetryMaxBytes', config.telemetryMaxBytes, 262144, 1048576);
  }
  if (config.telemetryTimeout !== undefined) {
    env.LEAKWATCH_TELEMETRY_TIMEOUT_MS = milliseconds('telemetryTimeout', config.telemetryTimeout, 25, 30000);
  }
  if (config.reportWaitInvocations !== undefined) {
    env.LEAKWATCH_REPORT_WAIT_INVOCATIONS = integer('reportWaitInvocations', config.reportWaitInvocations, 1, 10);
  }
  if (config.recycleHorizon !== undefined) {
    env.LEAKWATCH_RECYCLE_HORIZON_MINUTES = String(recycleHorizonMinutes(config.recycleHorizon));
  }
  if (config.warmupInvocations !== undefined) {
    env.LEAKWATCH_WARMUP_INVOCATIONS = integer('warmupInvocations', config.warmupInvocations, 0, 1000);
  }
  if (config.restoreWarmupInvocations !== undefined) {
    env.LEAKWATCH_RESTORE_WARMUP_INVOCATIONS = integer(
      'restoreWarmupInvocations',
      config.restoreWarmupInvocations,
      0,
      1000,
    );
  }
  if (config.interval !== undefined) {
    env.LEAKWATCH_INTERVAL_MS = milliseconds('interval', config.interval, 100, 3600000);
  }

  const otlp = config.otlp;
  if (otlp !== undefined) {
    set('OTEL_EXPORTER_OTLP_ENDPOINT', otlp.endpoint);
    set('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT', otlp.metricsEndpoint);
    if (otlp.headers !== undefined) {
      if (Object.keys(otlp.headers).length > MAX_OTLP_HEADERS) {
        fail(`otlp.headers: leakwatch sends at most ${MAX_OTLP_HEADERS} headers`);
      }
      set('OTEL_EXPORTER_OTLP_HEADERS', keyValueList('otlp.headers', otlp.headers, HEADER_NAME_PATTERN));
    }
    set('OTEL_EXPORTER_OTLP_COMPRESSION', otlp.compression);
    if (otlp.timeout !== undefined) {
      env.OTEL_EXPORTER_OTLP_TIMEOUT = milliseconds('otlp.timeout', otlp.timeout, 1, MAX_OTLP_TIMEOUT_MS);
    }
    set('OTEL_SERVICE_NAME', otlp.serviceName);
    if (otlp.resourceAttributes !== undefined) {
      set('OTEL_RESOURCE_ATTRIBUTES', keyValueList('otlp.resourceAttributes', otlp.resourceAttributes, /^[^=,\s]+$/));
    }
  }
  return env;
}

/** The recycle horizon in minutes, checked against leakwatch's range. */
export function recycleHorizonMinutes(horizon: Duration): number {
  const minutes = horizon.toMinutes({ integral: false });
  if (!(minutes >= 1 && minutes <= 7 * 24 * 60)) {
    fail(`recycleHorizon must be from 1 minute to 7 days, got ${horizon.toString()}`);
  }
  return minutes;
}
