import { CfnParameter, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { LEAKWATCH_VERSION, LISTED_RUNTIMES, Leakwatch, LeakwatchLayer } from '../src';
import { ARM_ARN, X86_ARN, arnLayer, fakeDist, functionProps, newFunction, newStack, resources } from './fixtures';

describe('layer by ARN', () => {
  test('each function gets the layer of its own architecture', () => {
    const stack = newStack();
    const x86 = newFunction(stack, 'OnX86');
    const arm = newFunction(stack, 'OnArm', lambda.Architecture.ARM_64);
    const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: arnLayer() });
    assert.equal(leakwatch.addFunction(x86).layer.layerVersionArn, X86_ARN);
    assert.equal(leakwatch.addFunction(arm).layer.layerVersionArn, ARM_ARN);

    const template = Template.fromStack(stack);
    assert.deepEqual(functionProps(template, 'OnX86').Layers, [X86_ARN]);
    assert.deepEqual(functionProps(template, 'OnArm').Layers, [ARM_ARN]);
    // nothing is published: the layers exist already
    template.resourceCountIs('AWS::Lambda::LayerVersion', 0);
  });

  test("the function's other layers stay", () => {
    const stack = newStack();
    const other = 'arn:aws:lambda:eu-west-1:123456789012:layer:other:7';
    const fn = newFunction(stack, 'Fn', lambda.Architecture.X86_64, {
      layers: [lambda.LayerVersion.fromLayerVersionArn(stack, 'Other', other)],
    });
    new Leakwatch(stack, 'Leakwatch', { layer: arnLayer() }).addFunction(fn);
    const layers: string[] = functionProps(Template.fromStack(stack), 'Fn').Layers;
    assert.deepEqual([...layers].sort(), [other, X86_ARN].sort());
  });

  test('an architecture without a layer is refused, naming it', () => {
    const stack = newStack();
    const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: LeakwatchLayer.fromArns({ x86_64: X86_ARN }) });
    leakwatch.addFunction(newFunction(stack, 'OnX86'));
    assert.throws(
      () => leakwatch.addFunction(newFunction(stack, 'OnArm', lambda.Architecture.ARM_64)),
      /no layer version ARN for architecture arm64 \(given: x86_64\)/,
    );
  });

  test('an ARN without its version number is refused', () => {
    assert.throws(
      () => LeakwatchLayer.fromArns({ x86_64: 'arn:aws:lambda:eu-west-1:123456789012:layer:leakwatch-x86_64' }),
      /is not a layer version ARN/,
    );
  });

  test("a layer of another region than the stack's is refused", () => {
    const stack = newStack('us-east-1');
    const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: arnLayer() });
    assert.throws(() => leakwatch.addFunction(newFunction(stack, 'Fn')), /is in eu-west-1, the stack in us-east-1/);
  });

  test('an ARN from a parameter is passed through', () => {
    const stack = newStack();
    const arn = new CfnParameter(stack, 'LeakwatchLayerArn').valueAsString;
    new Leakwatch(stack, 'Leakwatch', { layer: LeakwatchLayer.fromArns({ x86_64: arn }) }).addFunction(
      newFunction(stack, 'Fn'),
    );
    assert.deepEqual(functionProps(Template.fromStack(stack), 'Fn').Layers, [{ Ref: 'LeakwatchLayerArn' }]);
  });
});

describe('layer published from the zips', () => {
  test('one layer version per architecture in use, as the SAM template publishes it', () => {
    const stack = newStack();
    const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: LeakwatchLayer.fromDist(fakeDist()) });
    leakwatch.addFunction(newFunction(stack, 'A'));
    leakwatch.addFunction(newFunction(stack, 'B'));
    leakwatch.addFunction(newFunction(stack, 'C', lambda.Architecture.ARM_64));
    const template = Template.fromStack(stack);

    template.resourceCountIs('AWS::Lambda::LayerVersion', 2);
    for (const arch of ['x86_64', 'arm64']) {
      template.hasResource('AWS::Lambda::LayerVersion', {
        Properties: {
          LayerName: `leakwatch-${arch}`,
          Description: `leakwatch ${LEAKWATCH_VERSION} (${arch}): per-invocation memory and leak detection`,
          CompatibleArchitectures: [arch],
          CompatibleRuntimes: [...LISTED_RUNTIMES],
          LicenseInfo: 'MIT',
        },
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
      });
    }
    const layers = resources(template, 'AWS::Lambda::LayerVersion');
    const idOf = (arch: string) =>
      Object.keys(layers).find((id) => layers[id].Properties.CompatibleArchitectures[0] === arch);
    assert.deepEqual(functionProps(template, 'A').Layers, [{ Ref: idOf('x86_64') }]);
    assert.deepEqual(functionProps(template, 'B').Layers, [{ Ref: idOf('x86_64') }]);
    assert.deepEqual(functionProps(template, 'C').Layers, [{ Ref: idOf('arm64') }]);
  });

  test('only the architectures in use are published, so only their zips are needed', () => {
    const stack = newStack();
    const leakwatch = new Leakwatch(stack, 'Leakwatch', {
      layer: LeakwatchLayer.fromDist(fakeDist('0.1.0', ['x86_64'])),
    });
    leakwatch.addFunction(newFunction(stack, 'Fn'));
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
    template.hasResourceProperties('AWS::Lambda::LayerVersion', { CompatibleArchitectures: ['x86_64'] });
    // the missing arm64 zip is an error only when an arm64 function asks for it
    assert.throws(() => leakwatch.addFunction(newFunction(stack, 'OnArm', lambda.Architecture.ARM_64)));
  });

  test('the version names the zips and the description', () => {
    const stack = newStack();
    const leakwatch = new Leakwatch(stack, 'Leakwatch', {
      layer: LeakwatchLayer.fromDist(fakeDist('9.8.7'), { version: '9.8.7', layerName: 'mem' }),
    });
    leakwatch.addFunction(newFunction(stack, 'OnX86'));
    leakwatch.addFunction(newFunction(stack, 'OnArm', lambda.Architecture.ARM_64));
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::LayerVersion', 2);
    for (const arch of ['x86_64', 'arm64']) {
      template.hasResourceProperties('AWS::Lambda::LayerVersion', {
        LayerName: `mem-${arch}`,
        Description: Match.stringLikeRegexp(`^leakwatch 9\\.8\\.7 \\(${arch}\\)`),
      });
    }
  });

  test('zips by path, with a removal policy', () => {
    const dir = fakeDist('0.1.0', ['arm64']);
    const stack = newStack();
    new Leakwatch(stack, 'Leakwatch', {
      layer: LeakwatchLayer.fromAssets(
        { arm64: join(dir, 'leakwatch-0.1.0-arm64.zip') },
        { removalPolicy: RemovalPolicy.DESTROY },
      ),
    }).addFunction(newFunction(stack, 'Fn', lambda.Architecture.ARM_64));
    Template.fromStack(stack).hasResource('AWS::Lambda::LayerVersion', {
      Properties: { CompatibleArchitectures: ['arm64'] },
      DeletionPolicy: 'Delete',
    });
  });

  test('a runtime the console list leaves out still takes the layer', () => {
    const stack = newStack();
    const fn = newFunction(stack, 'Fn', lambda.Architecture.X86_64, {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({});'),
    });
    assert.ok(!LISTED_RUNTIMES.includes(lambda.Runtime.NODEJS_24_X.name));
    new Leakwatch(stack, 'Leakwatch', { layer: LeakwatchLayer.fromDist(fakeDist()) }).addFunction(fn);
    assert.equal(functionProps(Template.fromStack(stack), 'Fn').Layers.length, 1);
  });
});

describe('layer versions defined elsewhere', () => {
  test('the given layer version of the architecture is attached', () => {
    const stack = newStack();
    const shared = lambda.LayerVersion.fromLayerVersionArn(stack, 'Shared', ARM_ARN);
    new Leakwatch(stack, 'Leakwatch', { layer: LeakwatchLayer.fromLayerVersions({ arm64: shared }) }).addFunction(
      newFunction(stack, 'Fn', lambda.Architecture.ARM_64),
    );
    assert.deepEqual(functionProps(Template.fromStack(stack), 'Fn').Layers, [ARM_ARN]);
  });
});

describe('functions leakwatch cannot take', () => {
  test('a container image function is refused', () => {
    const stack = newStack();
    const fn = new lambda.Function(stack, 'Image', {
      runtime: lambda.Runtime.FROM_IMAGE,
      handler: lambda.Handler.FROM_IMAGE,
      code: lambda.Code.fromEcrImage(ecr.Repository.fromRepositoryName(stack, 'Repo', 'fn'), { tagOrDigest: 'latest' }),
    });
    const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: arnLayer() });
    assert.throws(() => leakwatch.addFunction(fn), /container image/);
  });

  test('the same function twice is refused', () => {
    const stack = newStack();
    const fn = newFunction(stack, 'Fn');
    const leakwatch = new Leakwatch(stack, 'Leakwatch', { layer: arnLayer() });
    leakwatch.addFunction(fn);
    assert.throws(() => leakwatch.addFunction(fn), /already added/);
  });
});

describe('version', () => {
  test('the construct, its package and the C project have one version', (t) => {
    const root = join(__dirname, '..', '..');
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    assert.equal(pkg.version, LEAKWATCH_VERSION);
    const source = process.env.LW_SOURCE_DIR ?? join(root, '..', '..');
    const cmake = join(source, 'CMakeLists.txt');
    if (!existsSync(cmake)) {
      t.skip(`no ${cmake}: set LW_SOURCE_DIR to the repository`);
      return;
    }
    const match = /project\(leakwatch VERSION ([0-9.]+)/.exec(readFileSync(cmake, 'utf8'));
    assert.ok(match, 'CMakeLists.txt names the project version');
    assert.equal(match[1], LEAKWATCH_VERSION);
  });
});
