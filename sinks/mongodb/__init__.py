"""``mongodb``: a sink that writes topics to MongoDB collections (pymongo, imported lazily)."""

from headwater.sinks.mongodb.connector import MongoSinkConnector
from headwater.sinks.mongodb.task import MongoSinkTask

__all__ = ["MongoSinkConnector", "MongoSinkTask"]
