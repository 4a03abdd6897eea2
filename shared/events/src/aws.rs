//! The AWS side of the two functions: the dead-letter queue (SQS) and the event bus
//! (EventBridge).
use async_trait::async_trait;
use aws_sdk_sqs::types::MessageAttributeValue;

use crate::BoxError;
use crate::consumer::DeadLetters;
use crate::inbound::Rejected;
use crate::outbound::SOURCE;
use crate::publisher::{Bus, Entry};

/// The consumer's dead-letter queue.
pub struct SqsDeadLetters {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

fn text(value: &str) -> Result<MessageAttributeValue, BoxError> {
    Ok(MessageAttributeValue::builder().data_type("String").string_value(value).build()?)
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn send(&self, body: &str, rejected: &Rejected) -> Result<(), BoxError> {
        // the message as SQS takes it: at most 1,024 characters of the reason's message
        let message: String = rejected.message.chars().take(1024).collect();
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(if body.is_empty() { "(empty)" } else { body })
            .message_attributes("reason", text(rejected.reason.as_str())?)
            .message_attributes("message", text(&message)?)
            .send()
            .await
            .map_err(|e| BoxError::from(format!("SendMessage: {}", aws_sdk_sqs::error::DisplayErrorContext(&e))))?;
        Ok(())
    }
}

/// The bus the module publishes to.
pub struct EventBridgeBus {
    pub client: aws_sdk_eventbridge::Client,
    pub bus_name: String,
}

#[async_trait]
impl Bus for EventBridgeBus {
    async fn put(&self, entries: &[Entry]) -> Result<Vec<Option<String>>, BoxError> {
        let mut req = self.client.put_events();
        for e in entries {
            req = req.entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus_name)
                    .source(SOURCE)
                    .detail_type(&e.detail_type)
                    .detail(&e.detail)
                    .build(),
            );
        }
        let out = req.send().await.map_err(|e| BoxError::from(format!("PutEvents: {}", aws_sdk_eventbridge::error::DisplayErrorContext(&e))))?;
        let answers: Vec<Option<String>> = out.entries().iter().map(|r| r.error_code().map(str::to_string)).collect();
        if answers.len() != entries.len() {
            return Err(format!("PutEvents answered {} entries for {}", answers.len(), entries.len()).into());
        }
        Ok(answers)
    }
}
