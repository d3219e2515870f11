import { CfnElement, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CfnAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { Leakwatch, LeakwatchProps } from '../src';
import { arnLayer, newFunction, newStack, resources } from './fixtures';

function ref(stack: Stack, construct: lambda.Function | sns.Topic): { Ref: string } {
  return { Ref: stack.getLogicalId(construct.node.defaultChild as CfnElement) };
}

/** A stack with one function and a Leakwatch of the given props. */
function oneFunction(props: Partial<LeakwatchProps> = {}) {
  const stack = newStack();
  const fn = newFunction(stack, 'Fn');
  const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: arnLayer(), ...props });
  const attachment = leakwatch.addFunction(fn);
  return { stack, fn, leakwatch, attachment, template: Template.fromStack(stack) };
}

/** The four alarms of alarms.yaml and the out-of-memory one, as the template must have them. */
function expectedAlarms(stack: Stack, fn: lambda.Function, namespace: string, minutes: number) {
  const alarm = (suffix: string, metricName: string, statistic: string, threshold: number, op: string, missing: string) => ({
    AlarmName: { 'Fn::Join': ['', ['leakwatch-', ref(stack, fn), `-${suffix}`]] },
    Namespace: namespace,
    MetricName: metricName,
    Dimensions: [{ Name: 'FunctionName', Value: ref(stack, fn) }],
    Statistic: statistic,
    Threshold: threshold,
    ComparisonOperator: op,
    TreatMissingData: missing,
  });
  return [
    alarm('leak-critical', 'LeakVerdictLevel', 'Maximum', 3, 'GreaterThanOrEqualToThreshold', 'ignore'),
    alarm('leak', 'LeakVerdictLevel', 'Maximum', 2, 'GreaterThanOrEqualToThreshold', 'ignore'),
    alarm('minutes-to-oom', 'ProjectedMinutesToOom', 'Minimum', minutes, 'LessThanThreshold', 'notBreaching'),
    alarm('out-of-memory-deaths', 'OutOfMemoryDeaths', 'Sum', 1, 'GreaterThanOrEqualToThreshold', 'notBreaching'),
  ];
}

describe('alarms', () => {
  test("four alarms, on the metrics and thresholds of alarms.yaml, with its periods", () => {
    const { stack, fn, template, attachment } = oneFunction();
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    for (const props of expectedAlarms(stack, fn, 'Leakwatch', 120)) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        ...props,
        Period: 300,
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
      });
    }
    assert.ok(attachment.alarms);
    const { leakCritical, leak, minutesToOom, outOfMemoryDeaths } = attachment.alarms;
    assert.deepEqual(
      [leakCritical, leak, minutesToOom, outOfMemoryDeaths].map((a) => stack.resolve((a.node.defaultChild as CfnAlarm).alarmName)),
      ['leak-critical', 'leak', 'minutes-to-oom', 'out-of-memory-deaths'].map((suffix) => ({
        'Fn::Join': ['', ['leakwatch-', ref(stack, fn), `-${suffix}`]],
      })),
    );
  });

  test('without a topic the alarms have no actions', () => {
    const { template } = oneFunction();
    for (const alarm of Object.values(resources(template, 'AWS::CloudWatch::Alarm'))) {
      assert.equal(alarm.Properties.AlarmActions, undefined);
      assert.equal(alarm.Properties.OKActions, undefined);
    }
  });

  test('with a topic every alarm notifies it of ALARM and of OK', () => {
    const stack = newStack();
    const topic = new sns.Topic(stack, 'Oncall');
    const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: arnLayer(), alarmTopic: topic });
    leakwatch.addFunction(newFunction(stack, 'Fn'));
    const alarms = Object.values(resources(Template.fromStack(stack), 'AWS::CloudWatch::Alarm'));
    assert.equal(alarms.length, 4);
    for (const alarm of alarms) {
      assert.deepEqual(alarm.Properties.AlarmActions, [ref(stack, topic)]);
      assert.deepEqual(alarm.Properties.OKActions, [ref(stack, topic)]);
    }
  });

  test('alarms: false adds none', () => {
    const { template, attachment } = oneFunction({ alarms: false });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    assert.equal(attachment.alarms, undefined);
  });

  test('a namespace of its own is the one the alarms read', () => {
    const { stack, fn, template } = oneFunction({ namespace: 'Team/Memory' });
    for (const props of expectedAlarms(stack, fn, 'Team/Memory', 120)) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', props);
    }
    assert.equal(Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { Namespace: 'Leakwatch' } })).length, 0);
  });

  test('minutesToOomThreshold sets the threshold', () => {
    const { template } = oneFunction({ minutesToOomThreshold: 45 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ProjectedMinutesToOom', Threshold: 45 });
  });

  test('without a threshold, the recycle horizon is the threshold', () => {
    const { template, leakwatch } = oneFunction({ recycleHorizon: Duration.hours(6) });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ProjectedMinutesToOom', Threshold: 360 });
    assert.equal(leakwatch.minutesToOomThreshold, 360);
  });

  test('period and evaluation periods', () => {
    const { template } = oneFunction({ alarmPeriod: Duration.minutes(15), alarmEvaluationPeriods: 3 });
    const alarms = Object.values(resources(template, 'AWS::CloudWatch::Alarm'));
    assert.equal(alarms.length, 4);
    for (const alarm of alarms) {
      assert.equal(alarm.Properties.Period, 900);
      assert.equal(alarm.Properties.EvaluationPeriods, 3);
      assert.equal(alarm.Properties.DatapointsToAlarm, 1);
    }
  });

  for (const [name, props, message] of [
    ['a period of 90 s', { alarmPeriod: Duration.seconds(90) }, /alarmPeriod must be a whole number of minutes/],
    ['a period of 30 s', { alarmPeriod: Duration.seconds(30) }, /alarmPeriod/],
    ['no evaluation period', { alarmEvaluationPeriods: 0 }, /alarmEvaluationPeriods/],
    ['a threshold of 0 minutes', { minutesToOomThreshold: 0 }, /minutesToOomThreshold must be above 0/],
  ] as [string, Partial<LeakwatchProps>, RegExp][]) {
    test(`${name} is refused`, () => {
      assert.throws(() => new Leakwatch(newStack(), 'Leakwatch', { layer: arnLayer(), ...props }), message);
    });
  }

  test('two functions: four alarms each, each on its own function', () => {
    const stack = newStack();
    const orders = newFunction(stack, 'Orders');
    const billing = newFunction(stack, 'Billing', lambda.Architecture.ARM_64);
    const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: arnLayer() });
    leakwatch.addFunction(orders);
    leakwatch.addFunction(billing);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 8);
    for (const fn of [orders, billing]) {
      for (const props of expectedAlarms(stack, fn, 'Leakwatch', 120)) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', props);
      }
    }
    assert.deepEqual(leakwatch.attached.map((a) => a.function), [orders, billing]);
  });

  test('functions that share an id in different scopes get alarms of their own', () => {
    const stack = newStack();
    const a = newFunction(new Construct(stack, 'A'), 'Handler');
    const b = newFunction(new Construct(stack, 'B'), 'Handler');
    const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: arnLayer() });
    leakwatch.addFunction(a);
    leakwatch.addFunction(b);
    Template.fromStack(stack).resourceCountIs('AWS::CloudWatch::Alarm', 8);
  });

  test('metric() names a leakwatch metric of a function', () => {
    const { stack, fn, leakwatch } = oneFunction({ namespace: 'Team/Memory' });
    const metric = leakwatch.metric(fn, 'HeadroomBytes', { statistic: 'Minimum' });
    assert.equal(metric.namespace, 'Team/Memory');
    assert.equal(metric.metricName, 'HeadroomBytes');
    assert.equal(metric.statistic, 'Minimum');
    assert.deepEqual(stack.resolve(metric.dimensions), { FunctionName: ref(stack, fn) });
  });
});
