"""``aws-lambda``: a sink that invokes an AWS Lambda function with batches of records (boto3, imported lazily)."""

from headwater.sinks.aws_lambda.connector import LambdaSinkConnector
from headwater.sinks.aws_lambda.task import LambdaSinkTask

__all__ = ["LambdaSinkConnector", "LambdaSinkTask"]
