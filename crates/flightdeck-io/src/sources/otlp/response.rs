//! Answers as the OTLP/HTTP spec gives them: the export response in the request's encoding, and
//! for every 4xx and 5xx a `google.rpc.Status` naming the problem.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::decode::Encoding;

/// How long a refused exporter should wait before retrying, in seconds.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// `google.rpc.Status` without details: the code and the message.
#[derive(Clone, PartialEq, prost::Message, Serialize)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// A 200 with the export response (or any message) in the request's encoding.
pub fn success<T: prost::Message + Serialize>(message: &T, encoding: Encoding) -> Response {
    encoded(StatusCode::OK, message, encoding)
}

/// A failure with a `google.rpc.Status` body, in the request's encoding when it has a known one.
pub fn failure(status: StatusCode, message: String, encoding: Option<Encoding>) -> Response {
    let body = RpcStatus {
        code: rpc_code(status),
        message,
    };
    let mut response = encoded(status, &body, encoding.unwrap_or(Encoding::Json));
    let headers = response.headers_mut();
    match status {
        StatusCode::SERVICE_UNAVAILABLE => {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        StatusCode::UNAUTHORIZED => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        _ => {}
    }
    response
}

fn encoded<T: prost::Message + Serialize>(
    status: StatusCode,
    message: &T,
    encoding: Encoding,
) -> Response {
    let (content_type, body) = match encoding {
        Encoding::Protobuf => ("application/x-protobuf", message.encode_to_vec()),
        Encoding::Json => ("application/json", json(message)),
    };
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The gRPC code that goes with an HTTP status (google/rpc/code.proto).
fn rpc_code(status: StatusCode) -> i32 {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE => 3,
        StatusCode::PAYLOAD_TOO_LARGE => 8,
        StatusCode::UNAUTHORIZED => 16,
        StatusCode::REQUEST_TIMEOUT => 4,
        StatusCode::MISDIRECTED_REQUEST => 7,
        StatusCode::SERVICE_UNAVAILABLE => 14,
        _ => 2,
    }
}

/// OTLP JSON leaves an unset field out rather than writing it as null.
fn json<T: Serialize>(message: &T) -> Vec<u8> {
    let mut value = serde_json::to_value(message).expect("an OTLP message serializes to JSON");
    if let serde_json::Value::Object(fields) = &mut value {
        fields.retain(|_, field| !field.is_null());
    }
    value.to_string().into_bytes()
}
