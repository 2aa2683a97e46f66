#!/usr/bin/env node
// A Python function traced by xraylayer, with the AWS CDK v2 in plain JavaScript (no build step).
//   npm ci
//   npx cdk deploy \
//     -c layerArn=arn:aws:lambda:us-east-1:123456789012:layer:xraylayer-python-arm64:1 \
//     -c architecture=arm64
// The layer's architecture must be the function's: xraylayer-python-arm64 for arm64,
// xraylayer-python-x86_64 for x86_64 (./dev.sh local publish prints both ARNs).
const path = require('node:path');
const cdk = require('aws-cdk-lib');
const iam = require('aws-cdk-lib/aws-iam');
const lambda = require('aws-cdk-lib/aws-lambda');

const ARCHITECTURES = { x86_64: lambda.Architecture.X86_64, arm64: lambda.Architecture.ARM_64 };

class TracedFunctionStack extends cdk.Stack {
  constructor(scope, id, props) {
    super(scope, id, props);
    const architecture = this.node.tryGetContext('architecture') ?? 'x86_64';
    if (!(architecture in ARCHITECTURES)) {
      throw new Error(`architecture must be x86_64 or arm64, not ${architecture}`);
    }
    const layerArn =
      this.node.tryGetContext('layerArn') ??
      `arn:aws:lambda:us-east-1:123456789012:layer:xraylayer-python-${architecture}:1`;
    const other = architecture === 'arm64' ? 'x86_64' : 'arm64';
    if (layerArn.includes(`-${other}:`)) {
      throw new Error(`layer ${layerArn} is for ${other}, the function is ${architecture}`);
    }

    const fn = new lambda.Function(this, 'HelloFunction', {
      runtime: lambda.Runtime.PYTHON_3_12,
      architecture: ARCHITECTURES[architecture],
      handler: 'app.handler',
      code: lambda.Code.fromAsset(path.join(__dirname, '..', 'function')),
      tracing: lambda.Tracing.ACTIVE,
      layers: [lambda.LayerVersion.fromLayerVersionArn(this, 'Xraylayer', layerArn)],
      environment: { AWS_LAMBDA_EXEC_WRAPPER: '/opt/xray-instrument' },
    });
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
        resources: ['*'],
      }),
    );
    new cdk.CfnOutput(this, 'FunctionName', { value: fn.functionName });
  }
}

const app = new cdk.App();
new TracedFunctionStack(app, 'XraylayerExample', {
  description: 'A Python function traced by the xraylayer Lambda layer, with no code change.',
});
