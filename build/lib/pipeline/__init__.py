"""copydesk: a Kafka stream-processing pipeline for news wire copy."""
