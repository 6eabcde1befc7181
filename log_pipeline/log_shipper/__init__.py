"""The log shipper: reads log lines and ships them to SQS in full SendMessageBatch requests."""
