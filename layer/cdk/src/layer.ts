import { RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** The leakwatch version this construct belongs to: the version of the zips `build-layer` makes. */
export const LEAKWATCH_VERSION = '0.1.0';

/** One value per architecture, keyed by the name Lambda gives it (`Architecture.name`). */
export interface PerArchitecture<T> {
  readonly x86_64?: T;
  readonly arm64?: T;
}

/** Options of a layer published from the zips by this stack. */
export interface LeakwatchLayerAssetOptions {
  /** leakwatch version of the zips, named in the layer's description (and in `fromDist`, the file name). @default LEAKWATCH_VERSION */
  readonly version?: string;
  /** Layer name; the architecture is appended: `<layerName>-x86_64`, `<layerName>-arm64`. @default 'leakwatch' */
  readonly layerName?: string;
  /** What happens to a layer version the stack no longer has. @default RemovalPolicy.RETAIN, as the SAM template */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Runtimes listed on a layer published from the zips. The list only filters the console's layer
 * picker (15 entries at most); the layer runs with every runtime of its architecture.
 */
export const LISTED_RUNTIMES: readonly string[] = [
  'nodejs18.x', 'nodejs20.x', 'nodejs22.x',
  'python3.10', 'python3.11', 'python3.12', 'python3.13',
  'java11', 'java17', 'java21',
  'dotnet8',
  'ruby3.2', 'ruby3.3',
  'provided.al2', 'provided.al2023',
];

const LAYER_VERSION_ARN = /^arn:aws[a-zA-Z-]*:lambda:([a-z0-9-]+):\d{12}:layer:[A-Za-z0-9_-]+:\d+$/;

/** Construct id of an architecture: `X8664`, `Arm64`. */
function archId(arch: string): string {
  return arch === 'x86_64' ? 'X8664' : arch.charAt(0).toUpperCase() + arch.slice(1).replace(/[^A-Za-z0-9]/g, '');
}

function pick<T>(values: PerArchitecture<T>, arch: lambda.Architecture, what: string): T {
  const value = (values as { readonly [arch: string]: T | undefined })[arch.name];
  if (value === undefined) {
    const given = Object.keys(values).filter((k) => (values as { [k: string]: unknown })[k] !== undefined);
    throw new Error(
      `leakwatch: no ${what} for architecture ${arch.name} (given: ${given.join(', ') || 'none'}); ` +
        'the layer holds native code, so each architecture needs its own',
    );
  }
  return value;
}

/**
 * Where the leakwatch layer of each architecture comes from: a layer version already published
 * (its ARN), one defined elsewhere in the app, or the zips of `layer/build-layer`, published by
 * this stack. A `Leakwatch` construct asks for an architecture only when a function of that
 * architecture is added, so a team whose functions are all x86_64 needs the x86_64 layer only.
 */
export abstract class LeakwatchLayer {
  /** Layer versions already published, by ARN (with the version number), one per architecture. */
  public static fromArns(arns: PerArchitecture<string>): LeakwatchLayer {
    for (const arn of Object.values(arns)) {
      if (arn !== undefined && !Token.isUnresolved(arn) && !LAYER_VERSION_ARN.test(arn)) {
        throw new Error(
          `leakwatch: "${arn}" is not a layer version ARN ` +
            '(arn:aws:lambda:<region>:<account>:layer:<name>:<version>)',
        );
      }
    }
    return new ArnLayer(arns);
  }

  /** Layer versions defined elsewhere in the app (`LayerVersion` or `LayerVersion.fromLayerVersionArn`). */
  public static fromLayerVersions(layers: PerArchitecture<lambda.ILayerVersion>): LeakwatchLayer {
    return new GivenLayer(layers);
  }

  /** Publishes the layer from zips (as `layer/build-layer` makes them) as part of the stack. */
  public static fromAssets(zips: PerArchitecture<string>, options: LeakwatchLayerAssetOptions = {}): LeakwatchLayer {
    return new AssetLayer(zips, options);
  }

  /**
   * Publishes the layer from `<distDir>/leakwatch-<version>-<arch>.zip`, the files
   * `layer/build-layer --arch all` writes to `dist/`.
   */
  public static fromDist(distDir: string, options: LeakwatchLayerAssetOptions = {}): LeakwatchLayer {
    const version = options.version ?? LEAKWATCH_VERSION;
    const dir = distDir.replace(/\/+$/, '');
    return new AssetLayer(
      {
        x86_64: `${dir}/leakwatch-${version}-x86_64.zip`,
        arm64: `${dir}/leakwatch-${version}-arm64.zip`,
      },
      options,
    );
  }

  /**
   * The layer version for one architecture, made in `scope` if it has to be made.
   * Called once per architecture and scope.
   */
  public abstract bind(scope: Construct, architecture: lambda.Architecture): lambda.ILayerVersion;
}

class ArnLayer extends LeakwatchLayer {
  constructor(private readonly arns: PerArchitecture<string>) {
    super();
  }

  public bind(scope: Construct, architecture: lambda.Architecture): lambda.ILayerVersion {
    const arn = pick(this.arns, architecture, 'layer version ARN');
    const region = Token.isUnresolved(arn) ? undefined : LAYER_VERSION_ARN.exec(arn)?.[1];
    const stackRegion = Stack.of(scope).region;
    if (region !== undefined && !Token.isUnresolved(stackRegion) && region !== stackRegion) {
      throw new Error(
        `leakwatch: the ${architecture.name} layer ${arn} is in ${region}, the stack in ${stackRegion}; ` +
          'Lambda attaches layers of the function\'s own region only',
      );
    }
    return lambda.LayerVersion.fromLayerVersionArn(scope, `Layer${archId(architecture.name)}`, arn);
  }
}

class GivenLayer extends LeakwatchLayer {
  constructor(private readonly layers: PerArchitecture<lambda.ILayerVersion>) {
    super();
  }

  public bind(_scope: Construct, architecture: lambda.Architecture): lambda.ILayerVersion {
    return pick(this.layers, architecture, 'layer version');
  }
}

class AssetLayer extends LeakwatchLayer {
  constructor(
    private readonly zips: PerArchitecture<string>,
    private readonly options: LeakwatchLayerAssetOptions,
  ) {
    super();
  }

  public bind(scope: Construct, architecture: lambda.Architecture): lambda.ILayerVersion {
    const zip = pick(this.zips, architecture, 'layer zip');
    const arch = architecture.name;
    const version = this.options.version ?? LEAKWATCH_VERSION;
    const layer = new lambda.LayerVersion(scope, `Layer${archId(arch)}`, {
      layerVersionName: `${this.options.layerName ?? 'leakwatch'}-${arch}`,
      description: `leakwatch ${version} (${arch}): per-invocation memory and leak detection`,
      code: lambda.Code.fromAsset(zip),
      compatibleArchitectures: [architecture],
      license: 'MIT',
      removalPolicy: this.options.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Listed on the published layer for the console, but not given to the L2 construct: it would
    // refuse functions of any runtime not on the list, and the layer runs with all of them.
    (layer.node.defaultChild as lambda.CfnLayerVersion).compatibleRuntimes = [...LISTED_RUNTIMES];
    return layer;
  }
}
