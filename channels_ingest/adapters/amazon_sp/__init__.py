"""Amazon Selling Partner API (SP-API): order context by getOrder/getOrderItems and ORDER_CHANGE
notifications read from the seller's own SQS queue. Buyer messages arrive by the email relay
(channels_ingest/email/amazon.py)."""
