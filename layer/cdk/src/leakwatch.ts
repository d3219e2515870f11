import { Duration, Names, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  DEFAULT_NAMESPACE,
  DEFAULT_RECYCLE_HORIZON_MINUTES,
  LeakwatchConfiguration,
  recycleHorizonMinutes,
  renderEnvironment,
} from './configuration';
import { LeakwatchLayer } from './layer';

/**
 * Props of the `Leakwatch` construct: where the layer comes from, leakwatch's configuration
 * (every `LeakwatchConfiguration` setting), and the alarms and dashboard. The names follow the
 * parameters of `layer/template.yaml` and `layer/alarms.yaml`.
 */
export interface LeakwatchProps extends LeakwatchConfiguration {
  /** The layer of each architecture (template: `LayerVersion`). */
  readonly layer: LeakwatchLayer;
  /** Add the leak alarms for every function (template: `DeployAlarms`). @default true */
  readonly alarms?: boolean;
  /** SNS topic for the ALARM and OK notifications of every alarm (alarms: `AlarmTopicArn`). @default no actions */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Alarm when an environment is projected to run out of memory sooner than this many minutes
   * (alarms: `MinutesToOomThreshold`). @default the recycle horizon in minutes: 120 unless `recycleHorizon` says otherwise
   */
  readonly minutesToOomThreshold?: number;
  /** Length of one evaluation period, whole minutes (alarms: `PeriodSeconds`). @default Duration.minutes(5) */
  readonly alarmPeriod?: Duration;
  /**
   * Periods each alarm looks at (alarms: `EvaluationPeriods`). leakwatch already applies
   * hysteresis per environment, so one breaching period is a verdict. @default 1
   */
  readonly alarmEvaluationPeriods?: number;
  /** Add a CloudWatch dashboard with one block of widgets per function. @default true */
  readonly dashboard?: boolean;
  /** Name of the dashboard. @default a name CloudFormation makes */
  readonly dashboardName?: string;
}

/** The alarms of one function. */
export interface LeakwatchAlarms {
  /** `LeakVerdictLevel` Maximum >= 3: memory runs out before the environment is recycled. */
  readonly leakCritical: cloudwatch.Alarm;
  /** `LeakVerdictLevel` Maximum >= 2: memory grows across invocations. */
  readonly leak: cloudwatch.Alarm;
  /** `ProjectedMinutesToOom` Minimum below the threshold. */
  readonly minutesToOom: cloudwatch.Alarm;
  /** `OutOfMemoryDeaths` Sum >= 1: an environment died of running out of memory. */
  readonly outOfMemoryDeaths: cloudwatch.Alarm;
}

/** What `addFunction` did to one function. */
export interface LeakwatchAttachment {
  readonly function: lambda.Function;
  /** The layer version attached: the one of the function's architecture. */
  readonly layer: lambda.ILayerVersion;
  /** The function's alarms, unless `alarms` is false. */
  readonly alarms?: LeakwatchAlarms;
}

/** Period of the dashboard's graphs: one point per minute, as the SAM template's dashboard. */
const DASHBOARD_PERIOD = Duration.minutes(1);

/**
 * Attaches leakwatch to Lambda functions: the layer of each function's architecture, the
 * configuration as environment variables, the leak alarms and a memory dashboard.
 *
 * ```ts
 * new Leakwatch(this, 'Leakwatch', {
 *   layer: LeakwatchLayer.fromArns({ x86_64: x86Arn, arm64: armArn }),
 *   alarmTopic: oncall,
 * }).addFunction(ordersApi);
 * ```
 */
export class Leakwatch extends Construct {
  /** CloudWatch namespace of the metrics, alarms and dashboard. */
  public readonly namespace: string;
  /** The environment variables every added function gets: only the settings given. */
  public readonly environment: { readonly [name: string]: string };
  /** Threshold of the minutes-to-OOM alarms. */
  public readonly minutesToOomThreshold: number;

  private readonly props: LeakwatchProps;
  private readonly layers = new Map<string, lambda.ILayerVersion>();
  private readonly attachments = new Map<lambda.Function, LeakwatchAttachment>();
  private readonly alarmPeriod: Duration;
  private readonly evaluationPeriods: number;
  private _dashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: LeakwatchProps) {
    super(scope, id);
    this.props = props;
    this.environment = renderEnvironment(props);
    this.namespace = props.namespace ?? DEFAULT_NAMESPACE;

    const threshold =
      props.minutesToOomThreshold ??
      (props.recycleHorizon !== undefined ? recycleHorizonMinutes(props.recycleHorizon) : DEFAULT_RECYCLE_HORIZON_MINUTES);
    if (!Token.isUnresolved(threshold) && !(threshold > 0)) {
      throw new Error(`leakwatch: minutesToOomThreshold must be above 0, got ${threshold}`);
    }
    this.minutesToOomThreshold = threshold;

    this.alarmPeriod = props.alarmPeriod ?? Duration.minutes(5);
    const periodSeconds = this.alarmPeriod.toSeconds({ integral: false });
    if (!Number.isInteger(periodSeconds) || periodSeconds < 60 || periodSeconds % 60 !== 0) {
      throw new Error(`leakwatch: alarmPeriod must be a whole number of minutes, got ${this.alarmPeriod.toString()}`);
    }
    this.evaluationPeriods = props.alarmEvaluationPeriods ?? 1;
    if (!Token.isUnresolved(this.evaluationPeriods) && !(Number.isInteger(this.evaluationPeriods) && this.evaluationPeriods >= 1)) {
      throw new Error(`leakwatch: alarmEvaluationPeriods must be a whole number from 1, got ${this.evaluationPeriods}`);
    }
  }

  /** The dashboard, once a function has been added (unless `dashboard` is false). */
  public get dashboard(): cloudwatch.Dashboard | undefined {
    return this._dashboard;
  }

  /** The functions added so far, in order. */
  public get attached(): LeakwatchAttachment[] {
    return [...this.attachments.values()];
  }

  /**
   * Attaches leakwatch to a function: the layer of `fn.architecture`, the configured variables,
   * the alarms and a block of the dashboard. Call it once for each function.
   */
  public addFunction(fn: lambda.Function): LeakwatchAttachment {
    if (this.attachments.has(fn)) {
      throw new Error(`leakwatch: ${fn.node.path} was already added to ${this.node.path}`);
    }
    if (fn.runtime.runtimeEquals(lambda.Runtime.FROM_IMAGE)) {
      throw new Error(
        `leakwatch: ${fn.node.path} is a container image, which takes no layers; ` +
          "copy the layer's contents to /opt in the image instead",
      );
    }

    const layer = this.layerFor(fn.architecture);
    fn.addLayers(layer);
    for (const [name, value] of Object.entries(this.environment)) {
      fn.addEnvironment(name, value);
    }

    const scope = new Construct(this, this.childId(fn));
    const alarms = this.props.alarms === false ? undefined : this.addAlarms(scope, fn);
    if (this.props.dashboard !== false) {
      this.addDashboardBlock(fn, alarms);
    }
    const attachment: LeakwatchAttachment = { function: fn, layer, alarms };
    this.attachments.set(fn, attachment);
    return attachment;
  }

  /** A leakwatch metric of one function, e.g. `metric(fn, 'HeadroomBytes', { statistic: 'Minimum' })`. */
  public metric(fn: lambda.IFunction, metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: this.namespace,
      metricName,
      dimensionsMap: { FunctionName: fn.functionName },
      ...props,
    });
  }

  private layerFor(architecture: lambda.Architecture): lambda.ILayerVersion {
    let layer = this.layers.get(architecture.name);
    if (layer === undefined) {
      layer = this.props.layer.bind(this, architecture);
      this.layers.set(architecture.name, layer);
    }
    return layer;
  }

  /**
   * The function's own id where free, so that logical ids read well; else a unique one. `Default`
   * and `Resource` are left out of logical ids by the CDK, so they are not used either.
   */
  private childId(fn: lambda.Function): string {
    const id = fn.node.id.replace(/[^A-Za-z0-9]/g, '');
    const usable = id !== '' && id !== 'Default' && id !== 'Resource' && this.node.tryFindChild(id) === undefined;
    return usable ? id : Names.nodeUniqueId(fn.node);
  }

  private addAlarms(scope: Construct, fn: lambda.Function): LeakwatchAlarms {
    const name = fn.functionName;
    const make = (
      id: string,
      suffix: string,
      description: string,
      metricName: string,
      statistic: string,
      threshold: number,
      comparisonOperator: cloudwatch.ComparisonOperator,
      treatMissingData: cloudwatch.TreatMissingData,
    ): cloudwatch.Alarm => {
      const alarm = new cloudwatch.Alarm(scope, id, {
        alarmName: `leakwatch-${name}-${suffix}`,
        alarmDescription: description,
        metric: this.metric(fn, metricName, { statistic, period: this.alarmPeriod }),
        threshold,
        comparisonOperator,
        evaluationPeriods: this.evaluationPeriods,
        datapointsToAlarm: 1,
        treatMissingData,
      });
      if (this.props.alarmTopic !== undefined) {
        alarm.addAlarmAction(new SnsAction(this.props.alarmTopic));
        alarm.addOkAction(new SnsAction(this.props.alarmTopic));
      }
      return alarm;
    };
    const GTE = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
    return {
      // No invocation means no new data, not a healthy function: the verdict alarms keep their state.
      leakCritical: make(
        'LeakCritical', 'leak-critical',
        `${name}: an environment's memory grows and is projected to run out before Lambda recycles it ` +
          "(LeakVerdictLevel 3). The verdict-change line in the function's log names the process that grows.",
        'LeakVerdictLevel', 'Maximum', 3, GTE, cloudwatch.TreatMissingData.IGNORE,
      ),
      leak: make(
        'Leak', 'leak',
        `${name}: an environment's memory grows across invocations (LeakVerdictLevel 2 or more). ` +
          'Not urgent while the recycle horizon comes first; worth a fix.',
        'LeakVerdictLevel', 'Maximum', 2, GTE, cloudwatch.TreatMissingData.IGNORE,
      ),
      // Written only while a leak is projected: missing data is the healthy case.
      minutesToOom: make(
        'MinutesToOom', 'minutes-to-oom',
        `${name}: an environment is projected to run out of memory in less than ` +
          `${this.minutesToOomThreshold} minutes (ProjectedMinutesToOom).`,
        'ProjectedMinutesToOom', 'Minimum', this.minutesToOomThreshold,
        cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD, cloudwatch.TreatMissingData.NOT_BREACHING,
      ),
      // Written once per environment that died of out-of-memory: missing data is the healthy case.
      outOfMemoryDeaths: make(
        'OutOfMemoryDeaths', 'out-of-memory-deaths',
        `${name}: an environment died of running out of memory (OutOfMemoryDeaths). ` +
          'OutOfMemoryPredicted tells whether leakwatch had projected it.',
        'OutOfMemoryDeaths', 'Sum', 1, GTE, cloudwatch.TreatMissingData.NOT_BREACHING,
      ),
    };
  }

  private dashboardOrNew(): cloudwatch.Dashboard {
    if (this._dashboard === undefined) {
      this._dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: this.props.dashboardName });
      this._dashboard.addWidgets(
        new cloudwatch.TextWidget({
          markdown:
            '## leakwatch\n' +
            `Per-invocation memory of each function (the runtime and its children) from leakwatch's records, namespace \`${this.namespace}\`, ` +
            "dimension `FunctionName`. One point per invocation; Lambda's own `Max Memory Used` is a high-water mark of the whole environment and cannot show a leak.",
          width: 24,
          height: 2,
        }),
      );
    }
    return this._dashboard;
  }

  private addDashboardBlock(fn: lambda.Function, alarms: LeakwatchAlarms | undefined): void {
    const dashboard = this.dashboardOrNew();
    const m = (metricName: string, statistic: string, label: string) =>
      this.metric(fn, metricName, { statistic, label, period: DASHBOARD_PERIOD });
    const bytes: cloudwatch.YAxisProps = { min: 0, label: 'bytes', showUnits: false };
    const name = fn.functionName;

    dashboard.addWidgets(
      alarms !== undefined
        ? new cloudwatch.AlarmStatusWidget({
            title: `${name}: leak alarms`,
            alarms: [alarms.leakCritical, alarms.leak, alarms.minutesToOom, alarms.outOfMemoryDeaths],
            width: 24,
            height: 2,
          })
        : new cloudwatch.TextWidget({ markdown: `### ${name}`, width: 24, height: 1 }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name}: function RSS per invocation`,
        left: [
          m('FunctionRssStartBytes', 'Maximum', 'at start (max)'),
          m('FunctionRssPeakBytes', 'Maximum', 'peak (max)'),
          m('FunctionRssEndBytes', 'Maximum', 'at end (max)'),
        ],
        leftYAxis: bytes,
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: environment RSS vs. limit`,
        left: [
          m('EnvironmentRssBytes', 'Maximum', 'environment RSS (max)'),
          m('MemoryLimitBytes', 'Maximum', 'memory limit'),
          m('HeadroomBytes', 'Minimum', 'headroom (min)'),
        ],
        leftYAxis: bytes,
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: leak growth`,
        left: [m('GrowthPerHourBytes', 'Maximum', 'growth per hour (max)')],
        right: [m('GrowthPerInvocationBytes', 'Maximum', 'growth per invocation (max)')],
        leftYAxis: { label: 'bytes per hour', showUnits: false },
        rightYAxis: { label: 'bytes per invocation', showUnits: false },
        width: 8,
        height: 6,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${name}: leak verdict`,
        left: [m('LeakVerdictLevel', 'Maximum', 'verdict level (max)')],
        leftYAxis: { min: 0, max: 3, label: '0 steady, 1 warming, 2 leak, 3 critical', showUnits: false },
        leftAnnotations: [
          { value: 2, label: 'leak', color: cloudwatch.Color.ORANGE },
          { value: 3, label: 'leak-critical', color: cloudwatch.Color.RED },
        ],
        width: 8,
        height: 6,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: minutes to out-of-memory`,
        left: [m('ProjectedMinutesToOom', 'Minimum', 'projected minutes to OOM (min)')],
        leftYAxis: { min: 0, label: 'minutes', showUnits: false },
        leftAnnotations:
          alarms !== undefined
            ? [{ value: this.minutesToOomThreshold, label: 'alarm threshold', color: cloudwatch.Color.RED }]
            : undefined,
        width: 8,
        height: 6,
      }),
      new cloudwatch.SingleValueWidget({
        title: `${name}: out-of-memory deaths in the time range`,
        metrics: [
          m('OutOfMemoryDeaths', 'Sum', 'deaths'),
          m('OutOfMemoryPredicted', 'Sum', 'of them projected by leakwatch'),
        ],
        setPeriodToTimeRange: true,
        width: 8,
        height: 6,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.LogQueryWidget({
        title: `${name}: verdict changes`,
        logGroupNames: [logGroupName(fn)],
        queryLines: [
          'fields @timestamp, From, To, Reason, GrowthPerInvocationBytes, ProjectedMinutesToOom, Culprit, EnvironmentId',
          "filter LeakwatchAlert = 'verdict-change'",
          'sort @timestamp desc',
          'limit 50',
        ],
        view: cloudwatch.LogQueryVisualizationType.TABLE,
        width: 24,
        height: 5,
      }),
    );
  }
}

/**
 * The log group the function writes to: the one of its logging configuration, else Lambda's
 * default. (`fn.logGroup` is not used: for a function without a log group of its own it adds a
 * log-retention custom resource to the stack.)
 */
function logGroupName(fn: lambda.Function): string {
  const config = (fn.node.defaultChild as lambda.CfnFunction).loggingConfig;
  if (config !== undefined && !Token.isUnresolved(config)) {
    const logGroup = (config as lambda.CfnFunction.LoggingConfigProperty).logGroup;
    if (logGroup !== undefined) return logGroup;
  }
  return `/aws/lambda/${fn.functionName}`;
}
