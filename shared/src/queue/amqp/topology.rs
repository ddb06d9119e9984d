//! Names, declarations and header conversions of the RabbitMQ topology:
//!
//! ```text
//! exchange PREFIX (direct) ──"jobs"──▶ quorum queue PREFIX.jobs ──(delivery limit, reject)──▶
//! exchange PREFIX.dlx (fanout) ──▶ quorum queue PREFIX.jobs.dead
//! ```

use crate::ports::{QueueError, TraceHeaders};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

/// Routing key of job messages on the main exchange.
pub(super) const JOBS_ROUTING_KEY: &str = "jobs";

/// The names derived from the configured prefix.
#[derive(Debug, Clone)]
pub(super) struct Names {
    pub exchange: ShortString,
    pub jobs: ShortString,
    pub dlx: ShortString,
    pub dead: ShortString,
}

impl Names {
    pub fn new(prefix: &str) -> Result<Self, QueueError> {
        let name = |suffix: &str| {
            ShortString::try_new(format!("{prefix}{suffix}")).map_err(|_| {
                QueueError::Fatal(format!(
                    "queue prefix {prefix:?} is too long for an AMQP name"
                ))
            })
        };
        if prefix.is_empty() {
            return Err(QueueError::Fatal("queue prefix must not be empty".into()));
        }
        Ok(Self {
            exchange: name("")?,
            jobs: name(".jobs")?,
            dlx: name(".dlx")?,
            dead: name(".jobs.dead")?,
        })
    }
}

fn durable_exchange() -> ExchangeDeclareOptions {
    ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    }
}

fn quorum_args() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args
}

/// Declares the whole topology (idempotent). A queue that exists with other arguments (a
/// changed delivery limit, a classic queue of the same name) fails with PRECONDITION_FAILED,
/// which is reported as [`QueueError::Fatal`]: redeclaring cannot fix it, an operator must
/// delete the queue or align the configuration.
pub(super) async fn declare(
    channel: &Channel,
    names: &Names,
    delivery_limit: u32,
) -> Result<(), QueueError> {
    let context = |what: &str, name: &ShortString| format!("declaring {what} {name}");
    channel
        .exchange_declare(
            names.dlx.clone(),
            ExchangeKind::Fanout,
            durable_exchange(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| classify(&context("exchange", &names.dlx), e))?;
    channel
        .queue_declare(
            names.dead.clone(),
            QueueDeclareOptions::durable(),
            quorum_args(),
        )
        .await
        .map_err(|e| classify(&context("queue", &names.dead), e))?;
    channel
        .queue_bind(
            names.dead.clone(),
            names.dlx.clone(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| classify(&context("binding of", &names.dead), e))?;

    channel
        .exchange_declare(
            names.exchange.clone(),
            ExchangeKind::Direct,
            durable_exchange(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| classify(&context("exchange", &names.exchange), e))?;
    let mut args = quorum_args();
    // A 32-bit int, as other clients declare it: the broker compares arguments on redeclare.
    let limit = i32::try_from(delivery_limit).unwrap_or(i32::MAX);
    args.insert("x-delivery-limit".into(), AMQPValue::LongInt(limit));
    args.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(names.dlx.as_str().into()),
    );
    channel
        .queue_declare(names.jobs.clone(), QueueDeclareOptions::durable(), args)
        .await
        .map_err(|e| classify(&context("queue", &names.jobs), e))?;
    channel
        .queue_bind(
            names.jobs.clone(),
            names.exchange.clone(),
            JOBS_ROUTING_KEY.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| classify(&context("binding of", &names.jobs), e))
}

/// Maps a lapin error to the port's error: refusals that retrying cannot fix (access,
/// mismatched arguments, missing queue) are fatal, everything else is "try again later".
pub(super) fn classify(context: &str, error: lapin::Error) -> QueueError {
    let fatal = match error.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => matches!(
            amqp.kind(),
            AMQPErrorKind::Soft(
                AMQPSoftError::ACCESSREFUSED
                    | AMQPSoftError::PRECONDITIONFAILED
                    | AMQPSoftError::NOTFOUND
            )
        ),
        _ => false,
    };
    let message = format!("{context}: {error}");
    if fatal {
        QueueError::Fatal(message)
    } else {
        QueueError::Unavailable(message)
    }
}

/// The trace context as AMQP headers (long strings, as other clients expect).
pub(super) fn trace_to_headers(trace: &TraceHeaders) -> FieldTable {
    let mut headers = FieldTable::default();
    for (key, value) in trace {
        // Only the W3C keys travel: anything else could leak request data into the broker.
        if key == "traceparent" || key == "tracestate" {
            headers.insert(
                key.as_str().into(),
                AMQPValue::LongString(LongString::from(value.as_str())),
            );
        }
    }
    headers
}

/// The trace context found in a delivery's headers.
pub(super) fn trace_from_headers(headers: Option<&FieldTable>) -> TraceHeaders {
    let mut trace = TraceHeaders::new();
    let Some(headers) = headers else { return trace };
    for key in ["traceparent", "tracestate"] {
        let text = match headers.inner().get(key) {
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            Some(AMQPValue::ShortString(s)) => s.as_str().to_string(),
            _ => continue,
        };
        trace.insert(key.to_string(), text);
    }
    trace
}

/// How often the message was delivered before: the quorum queue's `x-delivery-count`
/// header, absent on the first delivery.
pub(super) fn previous_deliveries(headers: Option<&FieldTable>) -> u32 {
    let value = headers.and_then(|h| h.inner().get("x-delivery-count"));
    let count: i64 = match value {
        Some(AMQPValue::ShortShortInt(v)) => i64::from(*v),
        Some(AMQPValue::ShortShortUInt(v)) => i64::from(*v),
        Some(AMQPValue::ShortInt(v)) => i64::from(*v),
        Some(AMQPValue::ShortUInt(v)) => i64::from(*v),
        Some(AMQPValue::LongInt(v)) => i64::from(*v),
        Some(AMQPValue::LongUInt(v)) => i64::from(*v),
        Some(AMQPValue::LongLongInt(v)) => *v,
        Some(AMQPValue::Timestamp(v)) => i64::try_from(*v).unwrap_or(i64::MAX),
        _ => 0,
    };
    u32::try_from(count.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        let names = Names::new("facefix").expect("names");
        assert_eq!(names.exchange.as_str(), "facefix");
        assert_eq!(names.jobs.as_str(), "facefix.jobs");
        assert_eq!(names.dlx.as_str(), "facefix.dlx");
        assert_eq!(names.dead.as_str(), "facefix.jobs.dead");
        assert!(Names::new("").is_err());
        assert!(Names::new(&"x".repeat(300)).is_err());
    }

    #[test]
    fn trace_headers_round_trip_and_only_w3c_keys_travel() {
        let mut trace = TraceHeaders::new();
        trace.insert(
            "traceparent".into(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        );
        trace.insert("tracestate".into(), "vendor=1".into());
        trace.insert("cookie".into(), "secret".into());
        let headers = trace_to_headers(&trace);
        assert!(!headers.contains_key("cookie"));
        let back = trace_from_headers(Some(&headers));
        assert_eq!(back.len(), 2);
        assert_eq!(back["tracestate"], "vendor=1");
    }

    #[test]
    fn delivery_count_is_read_from_any_integer_type() {
        assert_eq!(previous_deliveries(None), 0);
        let mut headers = FieldTable::default();
        headers.insert("x-delivery-count".into(), AMQPValue::LongLongInt(2));
        assert_eq!(previous_deliveries(Some(&headers)), 2);
        headers.insert("x-delivery-count".into(), AMQPValue::LongInt(-1));
        assert_eq!(previous_deliveries(Some(&headers)), 0);
    }
}
