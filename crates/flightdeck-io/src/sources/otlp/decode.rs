//! Request bodies: which encoding the content type names, the size limit (before and after
//! gzip, so a small compressed body cannot expand without bound), and the decoded message.

use std::io::Read;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use flate2::read::MultiGzDecoder;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

/// How a request's body, and so its answer, is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

/// Why a request could not be read; each answers with its own status.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("unsupported content type {0:?}: send {1}")]
    UnsupportedType(String, &'static str),
    #[error("unsupported content encoding {0:?}: send gzip or no Content-Encoding")]
    UnsupportedEncoding(String),
    #[error(
        "the body is larger than {limit} bytes{}",
        if *.decompressed { " once decompressed" } else { "" }
    )]
    TooLarge { limit: usize, decompressed: bool },
    #[error(
        "the body holds {count} {what}, more than the {limit} a request may hold: send smaller batches (e.g. OTEL_BSP_MAX_EXPORT_BATCH_SIZE)"
    )]
    TooManyRecords {
        count: usize,
        what: &'static str,
        limit: usize,
    },
    #[error("the body did not arrive within {0:?}: send it faster, or in smaller batches")]
    TooSlow(std::time::Duration),
    #[error("cannot read the body: {0}")]
    Read(String),
    #[error("the body is not valid gzip: {0}")]
    Gzip(std::io::Error),
    /// Reading it failed on our side (the decoding task ended early): 503, the status OTLP
    /// exporters retry (they never retry a 500).
    #[error("the receiver failed while reading the body: {0}")]
    Internal(String),
    #[error("cannot decode the body as {message} ({encoding}): {reason}")]
    Undecodable {
        message: &'static str,
        encoding: &'static str,
        reason: String,
    },
}

impl BodyError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedType(..) | Self::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::TooLarge { .. } | Self::TooManyRecords { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Read(_) | Self::Gzip(_) | Self::Undecodable { .. } => StatusCode::BAD_REQUEST,
            Self::TooSlow(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Internal(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// The media type without parameters, lowercased.
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The OTLP encoding the content type names.
pub fn otlp_encoding(headers: &HeaderMap) -> Result<Encoding, BodyError> {
    match media_type(headers).as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        other => Err(BodyError::UnsupportedType(
            other.to_owned(),
            "application/x-protobuf or application/json",
        )),
    }
}

/// Change records come as a JSON array or JSON lines.
pub fn check_changes_type(headers: &HeaderMap) -> Result<(), BodyError> {
    match media_type(headers).as_str() {
        "application/json"
        | "application/x-ndjson"
        | "application/jsonl"
        | "application/json-lines" => Ok(()),
        other => Err(BodyError::UnsupportedType(
            other.to_owned(),
            "application/json (an array or JSON lines), e.g. curl -H 'Content-Type: application/json'",
        )),
    }
}

/// A body as it came over the wire, within the size limit.
pub struct RawBody {
    bytes: axum::body::Bytes,
    gzip: bool,
    limit: usize,
}

/// The body, refused past `limit` bytes as sent; decompression comes later, off the runtime's
/// workers ([`RawBody::decompressed`]).
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<RawBody, BodyError> {
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|value| {
            value
                .to_str()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .as_deref()
    {
        None | Some("" | "identity") => false,
        Some("gzip" | "x-gzip") => true,
        Some(other) => return Err(BodyError::UnsupportedEncoding(other.to_owned())),
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge {
            limit,
            decompressed: false,
        });
    }
    // Read frame by frame into one buffer sized once, so a body costs its size, never twice.
    let too_large = BodyError::TooLarge {
        limit,
        decompressed: false,
    };
    let mut bytes = Vec::with_capacity(declared.map_or(0, |length| length as usize));
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| BodyError::Read(error.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > limit {
                return Err(too_large);
            }
            bytes.extend_from_slice(&data);
        }
    }
    let bytes = bytes.into();
    Ok(RawBody { bytes, gzip, limit })
}

impl RawBody {
    /// The body decompressed, refused past the limit once decompressed too.
    pub fn decompressed(self) -> Result<axum::body::Bytes, BodyError> {
        if !self.gzip {
            return Ok(self.bytes);
        }
        let limit = self.limit;
        let mut plain = Vec::with_capacity(self.bytes.len().saturating_mul(4).min(limit));
        // One byte past the limit is enough to know it is too large, however far it would expand.
        MultiGzDecoder::new(&self.bytes[..])
            .take((limit as u64).saturating_add(1))
            .read_to_end(&mut plain)
            .map_err(BodyError::Gzip)?;
        if plain.len() > limit {
            return Err(BodyError::TooLarge {
                limit,
                decompressed: true,
            });
        }
        Ok(plain.into())
    }
}

/// An OTLP request message from its protobuf or JSON body.
pub fn decode<T: prost::Message + Default + DeserializeOwned>(
    bytes: &[u8],
    encoding: Encoding,
    message: &'static str,
) -> Result<T, BodyError> {
    let result = match encoding {
        Encoding::Protobuf => T::decode(bytes).map_err(|error| ("protobuf", error.to_string())),
        Encoding::Json => {
            serde_json::from_slice(bytes).map_err(|error| ("JSON", error.to_string()))
        }
    };
    result.map_err(|(encoding, reason)| BodyError::Undecodable {
        message,
        encoding,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_on_our_side_is_retryable() {
        let error = BodyError::Internal("task cancelled".into());
        assert_eq!(error.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
