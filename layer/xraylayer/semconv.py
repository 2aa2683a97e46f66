"""Span attribute names: OpenTelemetry's semantic conventions, plus the few X-Ray needs.

The instrumentations write these; the X-Ray and OTLP converters read them. One list, so a
name cannot drift between the writer and the reader.
"""

# Function (faas.*, cloud.*)
FAAS_TRIGGER = "faas.trigger"  # http | pubsub | datasource | timer | other
FAAS_INVOCATION_ID = "faas.invocation_id"
FAAS_NAME = "faas.name"
FAAS_VERSION = "faas.version"
FAAS_COLDSTART = "faas.coldstart"
FAAS_MAX_MEMORY = "faas.max_memory"  # bytes
FAAS_INIT_DURATION_MS = "xraylayer.init_duration_ms"
FAAS_INITIALIZATION_TYPE = "xraylayer.initialization_type"
FAAS_TRIGGER_TYPE = "xraylayer.trigger_type"  # api-gateway-rest, sqs, sns, ... (fine-grained)
CLOUD_PROVIDER = "cloud.provider"
CLOUD_REGION = "cloud.region"
CLOUD_ACCOUNT_ID = "cloud.account.id"
CLOUD_RESOURCE_ID = "cloud.resource_id"  # the function ARN

# The event's trace context (message_context.py)
XRAYLAYER_PARENT_SOURCE = "xraylayer.parent_source"  # where a parent from the event was found
XRAYLAYER_LINKS_DROPPED = "xraylayer.links_dropped"  # links past the limit, left out
XRAYLAYER_MESSAGES_UNREAD = "xraylayer.messages_unread"  # records past the bounds, not read

# Messages an invocation processes (messaging.*)
MESSAGING_SYSTEM = "messaging.system"  # aws_sqs | aws.sns
MESSAGING_OPERATION_TYPE = "messaging.operation.type"  # process
MESSAGING_DESTINATION_NAME = "messaging.destination.name"  # the queue or topic name
MESSAGING_BATCH_MESSAGE_COUNT = "messaging.batch.message_count"
MESSAGING_MESSAGE_ID = "messaging.message.id"

# AWS SDK calls (rpc.*, aws.*)
RPC_SYSTEM = "rpc.system"  # "aws-api"
RPC_SERVICE = "rpc.service"  # botocore service id: "DynamoDB", "S3", "SQS"
RPC_METHOD = "rpc.method"  # operation: "PutItem"
AWS_REGION = "aws.region"
AWS_REQUEST_ID = "aws.request_id"
AWS_RETRIES = "aws.retries"
AWS_ERROR_CODE = "aws.error_code"
AWS_DYNAMODB_TABLE_NAMES = "aws.dynamodb.table_names"  # list of str
AWS_S3_BUCKET = "aws.s3.bucket"
AWS_S3_KEY = "aws.s3.key"
AWS_SQS_QUEUE_URL = "aws.sqs.queue_url"
AWS_SNS_TOPIC_ARN = "aws.sns.topic.arn"
AWS_LAMBDA_FUNCTION_NAME = "aws.lambda.function.name"
AWS_KINESIS_STREAM_NAME = "aws.kinesis.stream_name"
AWS_SFN_STATE_MACHINE_ARN = "aws.step_functions.state_machine.arn"
AWS_EVENTBRIDGE_BUS = "aws.eventbridge.event_bus.name"
AWS_SECRETSMANAGER_SECRET_ARN = "aws.secretsmanager.secret.arn"

# HTTP calls (http.*, url.*, server.*)
HTTP_REQUEST_METHOD = "http.request.method"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
HTTP_RESPONSE_BODY_SIZE = "http.response.body.size"
URL_FULL = "url.full"  # query string removed unless configured otherwise
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
USER_AGENT = "user_agent.original"

# Errors
ERROR_TYPE = "error.type"
