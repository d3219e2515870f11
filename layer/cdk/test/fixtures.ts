import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeakwatchLayer } from '../src';

export const X86_ARN = 'arn:aws:lambda:eu-west-1:123456789012:layer:leakwatch-x86_64:3';
export const ARM_ARN = 'arn:aws:lambda:eu-west-1:123456789012:layer:leakwatch-arm64:4';

/** Both published layers, the common case. */
export function arnLayer(): LeakwatchLayer {
  return LeakwatchLayer.fromArns({ x86_64: X86_ARN, arm64: ARM_ARN });
}

/** One temporary folder per test file for everything synthesis and the fake zips write, removed at exit. */
const scratch = mkdtempSync(join(tmpdir(), 'leakwatch-cdk-test-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

/** A stack in eu-west-1, as the ARNs above; synthesis writes to a folder of its own. */
export function newStack(region = 'eu-west-1'): Stack {
  const app = new App({ outdir: mkdtempSync(join(scratch, 'out-')) });
  return new Stack(app, 'Stack', { env: { account: '123456789012', region } });
}

/** An ordinary function that knows nothing of leakwatch. */
export function newFunction(
  scope: Construct,
  id: string,
  architecture: lambda.Architecture = lambda.Architecture.X86_64,
  extra: Partial<lambda.FunctionProps> = {},
): lambda.Function {
  return new lambda.Function(scope, id, {
    runtime: lambda.Runtime.PYTHON_3_12,
    handler: 'index.handler',
    code: lambda.Code.fromInline('def handler(event, context):\n    return {}\n'),
    architecture,
    ...extra,
  });
}

/** A folder with stand-ins for the zips of layer/build-layer (their content is never read as a zip). */
export function fakeDist(version = '0.1.0', arches: string[] = ['x86_64', 'arm64']): string {
  const dir = mkdtempSync(join(scratch, 'dist-'));
  for (const arch of arches) {
    writeFileSync(join(dir, `leakwatch-${version}-${arch}.zip`), `not a real zip: ${arch}\n`);
  }
  return dir;
}

/** The resources of one type, by logical id. */
export function resources(template: Template, type: string): { [id: string]: any } {
  return template.findResources(type);
}

/** The one function in the template whose logical id starts with `id`. */
export function functionProps(template: Template, id: string): any {
  const matches = Object.entries(resources(template, 'AWS::Lambda::Function')).filter(([logicalId]) =>
    logicalId.startsWith(id),
  );
  if (matches.length !== 1) throw new Error(`expected one function ${id}, found ${matches.length}`);
  return matches[0][1].Properties;
}

/** The function's environment variables whose names leakwatch reads. */
export function leakwatchVariables(template: Template, id: string): { [name: string]: unknown } {
  const vars = functionProps(template, id).Environment?.Variables ?? {};
  const out: { [name: string]: unknown } = {};
  for (const [name, value] of Object.entries(vars)) {
    if (name.startsWith('LEAKWATCH_') || name.startsWith('OTEL_')) out[name] = value;
  }
  return out;
}
