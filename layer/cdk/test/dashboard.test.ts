import { CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { Leakwatch, LeakwatchProps } from '../src';
import { arnLayer, newFunction, newStack, resources } from './fixtures';

/** The metrics every function's block shows, with the statistic each is shown with. */
const SHOWN: [string, string][] = [
  ['FunctionRssStartBytes', 'Maximum'],
  ['FunctionRssPeakBytes', 'Maximum'],
  ['FunctionRssEndBytes', 'Maximum'],
  ['EnvironmentRssBytes', 'Maximum'],
  ['MemoryLimitBytes', 'Maximum'],
  ['HeadroomBytes', 'Minimum'],
  ['GrowthPerHourBytes', 'Maximum'],
  ['GrowthPerInvocationBytes', 'Maximum'],
  ['ProjectedMinutesToOom', 'Minimum'],
  ['LeakVerdictLevel', 'Maximum'],
  ['OutOfMemoryDeaths', 'Sum'],
  ['OutOfMemoryPredicted', 'Sum'],
];

/** A reference as it reads in the dashboard body once parsed: `<Ref LogicalId>`. */
function placeholder(logicalId: string): string {
  return `<Ref ${logicalId}>`;
}

/** The dashboard's body, parsed, with each reference turned into its placeholder. */
function dashboardBody(template: Template, logicalId?: string): { widgets: any[] } {
  const dashboards = resources(template, 'AWS::CloudWatch::Dashboard');
  const body = (logicalId !== undefined ? dashboards[logicalId] : Object.values(dashboards)[0]).Properties.DashboardBody;
  if (typeof body === 'string') return JSON.parse(body);
  const parts: unknown[] = body['Fn::Join'][1];
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const ref = (part as { Ref?: string }).Ref;
      if (ref !== undefined) return placeholder(ref);
      const getAtt = (part as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt'];
      if (getAtt !== undefined) return `<GetAtt ${getAtt.join('.')}>`;
      throw new Error(`unexpected part of the dashboard body: ${JSON.stringify(part)}`);
    })
    .join('');
  return JSON.parse(text);
}

function fnRef(stack: Stack, fn: lambda.Function): string {
  return placeholder(stack.getLogicalId(fn.node.defaultChild as CfnElement));
}

/** Every metric of the widgets as [namespace, name, dimension name, dimension value, statistic]. */
function metricsOf(widgets: any[]): string[][] {
  const out: string[][] = [];
  for (const widget of widgets) {
    for (const m of widget.properties?.metrics ?? []) {
      const options = typeof m[m.length - 1] === 'object' ? m[m.length - 1] : {};
      out.push([...m.slice(0, 4), options.stat ?? widget.properties.stat]);
    }
  }
  return out;
}

function build(props: Partial<LeakwatchProps>, fns: (stack: Stack) => lambda.Function[]) {
  const stack = newStack();
  const functions = fns(stack);
  const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: arnLayer(), ...props });
  for (const fn of functions) leakwatch.addFunction(fn);
  return { stack, functions, leakwatch, template: Template.fromStack(stack) };
}

describe('dashboard', () => {
  test('one dashboard; each function has its block with every memory metric', () => {
    const { stack, functions, template, leakwatch } = build({}, (s) => [
      newFunction(s, 'Orders'),
      newFunction(s, 'Billing', lambda.Architecture.ARM_64),
    ]);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    assert.ok(leakwatch.dashboard);
    const { widgets } = dashboardBody(template);
    assert.equal(widgets[0].type, 'text');
    assert.match(widgets[0].properties.markdown, /namespace `Leakwatch`/);

    const metrics = metricsOf(widgets);
    for (const fn of functions) {
      const ref = fnRef(stack, fn);
      for (const [name, stat] of SHOWN) {
        assert.ok(
          metrics.some((m) => m[0] === 'Leakwatch' && m[1] === name && m[2] === 'FunctionName' && m[3] === ref && m[4] === stat),
          `${name} (${stat}) of ${ref} is on the dashboard`,
        );
      }
      // the block's header shows the function's four alarms
      const header = widgets.find((w) => w.type === 'alarm' && String(w.properties.title).includes(ref));
      assert.ok(header, `alarm status of ${ref}`);
      assert.equal(header.properties.alarms.length, 4);
    }
    // and nothing else: no metric shown twice
    assert.equal(metrics.length, SHOWN.length * functions.length);
  });

  test('the blocks follow one another, every widget within the 24 columns', () => {
    const { template } = build({}, (s) => [newFunction(s, 'A'), newFunction(s, 'B')]);
    const { widgets } = dashboardBody(template);
    const rows = new Map<number, number>();
    for (const w of widgets) {
      assert.ok(w.x + w.width <= 24, `widget ${w.properties.title ?? w.type} fits`);
      rows.set(w.y, (rows.get(w.y) ?? 0) + w.width);
    }
    for (const [y, width] of rows) assert.ok(width <= 24, `row ${y} is ${width} wide`);
    // intro, then per function: header, two rows of three graphs, the verdict-change log
    assert.equal(widgets.length, 1 + 2 * (1 + 3 + 3 + 1));
  });

  test('the verdict changes are read from the log group the function writes to', () => {
    const { stack, functions, template } = build({}, (s) => [
      newFunction(s, 'Default'),
      newFunction(s, 'Own', lambda.Architecture.X86_64, {
        logGroup: logs.LogGroup.fromLogGroupName(s, 'OwnLogs', 'team/orders'),
      }),
    ]);
    const queries = dashboardBody(template)
      .widgets.filter((w) => w.type === 'log')
      .map((w) => w.properties.query as string);
    assert.equal(queries.length, 2);
    assert.match(queries[0], new RegExp(`^SOURCE '/aws/lambda/${fnRef(stack, functions[0])}'`));
    assert.match(queries[1], /^SOURCE 'team\/orders'/);
    for (const q of queries) assert.match(q, /filter LeakwatchAlert = 'verdict-change'/);
    // reading the log group name adds no log-retention function to the stack
    template.resourceCountIs('Custom::LogRetention', 0);
  });

  test('the minutes-to-OOM graph marks the alarm threshold', () => {
    const { template } = build({ minutesToOomThreshold: 45 }, (s) => [newFunction(s, 'Fn')]);
    const graph = dashboardBody(template).widgets.find((w) =>
      (w.properties.metrics ?? []).some((m: string[]) => m[1] === 'ProjectedMinutesToOom'),
    );
    assert.deepEqual(
      graph.properties.annotations.horizontal.map((a: any) => a.value),
      [45],
    );
  });

  test('without alarms: a plain header, no threshold line', () => {
    const { stack, functions, template } = build({ alarms: false }, (s) => [newFunction(s, 'Fn')]);
    const { widgets } = dashboardBody(template);
    assert.equal(widgets.filter((w) => w.type === 'alarm').length, 0);
    assert.ok(widgets.some((w) => w.type === 'text' && w.properties.markdown === `### ${fnRef(stack, functions[0])}`));
    const graph = widgets.find((w) => (w.properties.metrics ?? []).some((m: string[]) => m[1] === 'ProjectedMinutesToOom'));
    assert.equal(graph.properties.annotations, undefined);
  });

  test('a namespace of its own is the one the dashboard reads', () => {
    const { template } = build({ namespace: 'Team/Memory' }, (s) => [newFunction(s, 'Fn')]);
    const { widgets } = dashboardBody(template);
    const namespaces = new Set(metricsOf(widgets).map((m) => m[0]));
    assert.deepEqual([...namespaces], ['Team/Memory']);
    assert.match(widgets[0].properties.markdown, /namespace `Team\/Memory`/);
  });

  test('dashboardName names it', () => {
    const { template } = build({ dashboardName: 'orders-memory' }, (s) => [newFunction(s, 'Fn')]);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'orders-memory' });
  });

  test('dashboard: false adds none', () => {
    const { template, leakwatch } = build({ dashboard: false }, (s) => [newFunction(s, 'Fn')]);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    assert.equal(leakwatch.dashboard, undefined);
  });

  test('no function, no dashboard', () => {
    const { template } = build({}, () => []);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });
});
