//! The Prometheus HTTP API's JSON answers (`/api/v1/query`, `/api/v1/query_range`) read into
//! plain numbers. Several series are summed, as the config promises; values are strings in the
//! API so that "NaN" and "+Inf" survive JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

/// An instant query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantAnswer {
    /// The sum over all series; `None` when no series matched.
    pub value: Option<f64>,
    pub series: usize,
    pub warnings: Vec<String>,
}

/// A range query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeAnswer {
    /// At each timestamp, the sum of the series that have a point there; oldest first.
    pub points: Vec<(DateTime<Utc>, f64)>,
    pub series: usize,
    /// Points read before summing.
    pub samples: usize,
    pub warnings: Vec<String>,
}

/// Why an answer holds no usable number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResponseError {
    /// The server's own error envelope, e.g. `bad_data` with a PromQL parse error.
    #[error("{error_type}: {error}")]
    Api { error_type: String, error: String },
    /// Valid, but not something one number can show.
    #[error("{0}")]
    Unsupported(String),
    /// Not the API's JSON at all, or a value that is not a number.
    #[error("{0}")]
    Malformed(String),
}

#[derive(Deserialize)]
struct Envelope {
    status: String,
    data: Option<Data>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorSeries>),
    Matrix(Vec<MatrixSeries>),
    Scalar(Sample),
    String(Sample),
}

#[derive(Deserialize)]
struct VectorSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// Absent for a native histogram, which carries `histogram` instead.
    value: Option<Sample>,
}

#[derive(Deserialize)]
struct MatrixSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Sample>,
}

/// `[unix seconds, "value"]`.
type Sample = (f64, String);

/// Reads an instant query's answer: a vector is summed, a scalar taken as it is.
pub fn parse_instant(body: &str) -> Result<InstantAnswer, ResponseError> {
    let (data, warnings) = open_envelope(body)?;
    match data {
        Data::Vector(series) => {
            let mut sum = None;
            for one in &series {
                let (_, text) = one
                    .value
                    .as_ref()
                    .ok_or_else(|| no_float_value(&one.metric))?;
                let value = number(text)?;
                sum = Some(sum.unwrap_or(0.0) + value);
            }
            Ok(InstantAnswer {
                value: sum,
                series: series.len(),
                warnings,
            })
        }
        Data::Scalar((_, text)) => Ok(InstantAnswer {
            value: Some(number(&text)?),
            series: 1,
            warnings,
        }),
        Data::Matrix(_) => Err(ResponseError::Unsupported(
            "the query returns a range vector (raw samples), not one value; wrap it in a \
             function such as rate() or last_over_time()"
                .into(),
        )),
        Data::String((_, text)) => Err(ResponseError::Unsupported(format!(
            "the query returns the string {text:?}, not a number"
        ))),
    }
}

/// Reads a range query's answer, summing the series point by point.
pub fn parse_range(body: &str) -> Result<RangeAnswer, ResponseError> {
    let (data, warnings) = open_envelope(body)?;
    let Data::Matrix(series) = data else {
        return Err(ResponseError::Malformed(
            "a range query's answer must be a matrix".into(),
        ));
    };
    let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
    let mut samples = 0;
    for one in &series {
        if one.values.is_empty() {
            return Err(no_float_value(&one.metric));
        }
        for (seconds, text) in &one.values {
            *sums.entry(millis(*seconds)?).or_insert(0.0) += number(text)?;
            samples += 1;
        }
    }
    let points = sums
        .into_iter()
        .map(|(ms, value)| Ok((timestamp(ms)?, value)))
        .collect::<Result<_, ResponseError>>()?;
    Ok(RangeAnswer {
        points,
        series: series.len(),
        samples,
        warnings,
    })
}

/// The `data` of a successful answer and its warnings, or the server's error.
fn open_envelope(body: &str) -> Result<(Data, Vec<String>), ResponseError> {
    let envelope: Envelope = serde_json::from_str(body)
        .map_err(|err| ResponseError::Malformed(format!("not a Prometheus API answer: {err}")))?;
    if envelope.status != "success" {
        return Err(ResponseError::Api {
            error_type: envelope.error_type.unwrap_or_else(|| "error".into()),
            error: envelope
                .error
                .unwrap_or_else(|| format!("status {:?} without an error text", envelope.status)),
        });
    }
    let data = envelope
        .data
        .ok_or_else(|| ResponseError::Malformed("status \"success\" without \"data\"".into()))?;
    Ok((data, envelope.warnings))
}

/// A sample value: Prometheus writes "NaN", "+Inf" and "-Inf" for the non-finite ones.
fn number(text: &str) -> Result<f64, ResponseError> {
    text.parse()
        .map_err(|_| ResponseError::Malformed(format!("sample value {text:?} is not a number")))
}

fn millis(seconds: f64) -> Result<i64, ResponseError> {
    let ms = (seconds * 1000.0).round();
    // Beyond chrono's range anyway, and `as` would saturate silently.
    if !ms.is_finite() || ms.abs() > 1e17 {
        return Err(ResponseError::Malformed(format!(
            "sample timestamp {seconds} is not a time"
        )));
    }
    Ok(ms as i64)
}

fn timestamp(ms: i64) -> Result<DateTime<Utc>, ResponseError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| ResponseError::Malformed(format!("sample timestamp {ms} ms is not a time")))
}

fn no_float_value(metric: &BTreeMap<String, String>) -> ResponseError {
    let labels: Vec<String> = metric.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    ResponseError::Unsupported(format!(
        "series {{{}}} has no float samples (a native histogram?); wrap it in \
         histogram_quantile() or histogram_count()",
        labels.join(",")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    #[test]
    fn a_vector_of_several_series_is_summed() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"queue":"interactive"},"value":[1700000000,"40"]},
            {"metric":{"queue":"batch"},"value":[1700000000,"7.5"]}]}}"#;
        let answer = parse_instant(body).unwrap();
        assert_eq!(answer.value, Some(47.5));
        assert_eq!(answer.series, 2);
        assert!(answer.warnings.is_empty());
    }

    #[test]
    fn an_empty_vector_has_no_value_and_is_not_an_error() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        let answer = parse_instant(body).unwrap();
        assert_eq!(answer.value, None);
        assert_eq!(answer.series, 0);
    }

    #[test]
    fn non_finite_values_are_kept_as_promql_computed_them() {
        let nan = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"value":[1700000000,"NaN"]}]}}"#;
        assert!(parse_instant(nan).unwrap().value.unwrap().is_nan());
        let inf =
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}}"#;
        assert_eq!(parse_instant(inf).unwrap().value, Some(f64::INFINITY));
        let minus =
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"-Inf"]}}"#;
        assert_eq!(parse_instant(minus).unwrap().value, Some(f64::NEG_INFINITY));
    }

    #[test]
    fn a_scalar_is_one_value() {
        let body =
            r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"0.25"]}}"#;
        let answer = parse_instant(body).unwrap();
        assert_eq!((answer.value, answer.series), (Some(0.25), 1));
    }

    #[test]
    fn the_servers_error_envelope_is_reported_in_its_own_words() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:33: parse error: unclosed left parenthesis"}"#;
        let err = parse_instant(body).unwrap_err();
        assert_eq!(
            err,
            ResponseError::Api {
                error_type: "bad_data".into(),
                error: "invalid parameter \"query\": 1:33: parse error: unclosed left parenthesis"
                    .into(),
            }
        );
        assert_eq!(
            err.to_string(),
            "bad_data: invalid parameter \"query\": 1:33: parse error: unclosed left parenthesis"
        );
    }

    #[test]
    fn warnings_and_unknown_fields_are_accepted() {
        let body = r#"{"status":"success","isPartial":true,"warnings":["store 2 unreachable"],
            "data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"1"]}],
            "stats":{"seriesFetched":"1"}}}"#;
        let answer = parse_instant(body).unwrap();
        assert_eq!(answer.value, Some(1.0));
        assert_eq!(answer.warnings, vec!["store 2 unreachable".to_string()]);
    }

    #[test]
    fn a_range_vector_from_an_instant_query_is_refused_with_the_way_out() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1700000000,"1"]]}]}}"#;
        let err = parse_instant(body).unwrap_err();
        assert!(matches!(err, ResponseError::Unsupported(_)));
        assert!(err.to_string().contains("rate()"), "{err}");
    }

    #[test]
    fn a_native_histogram_names_its_series() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"latency"},"histogram":[1700000000,{"count":"3"}]}]}}"#;
        let err = parse_instant(body).unwrap_err();
        assert!(err.to_string().contains(r#"__name__="latency""#), "{err}");
    }

    #[test]
    fn a_value_that_is_not_a_number_is_malformed() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{},"value":[1700000000,"lots"]}]}}"#;
        assert_eq!(
            parse_instant(body).unwrap_err(),
            ResponseError::Malformed("sample value \"lots\" is not a number".into())
        );
    }

    #[test]
    fn a_body_that_is_not_the_api_is_malformed() {
        for body in [
            "<html>502 Bad Gateway</html>",
            r#"{"status":"success"}"#,
            r#"{"status":"success","data":{"resultType":"histogram","result":[]}}"#,
        ] {
            assert!(
                matches!(parse_instant(body), Err(ResponseError::Malformed(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn range_series_are_summed_point_by_point_oldest_first() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"queue":"interactive"},"values":[[1700000060,"2"],[1700000120,"3"]]},
            {"metric":{"queue":"batch"},"values":[[1700000000,"7"],[1700000060,"7"],[1700000120,"7"]]}]}}"#;
        let answer = parse_range(body).unwrap();
        assert_eq!(
            answer.points,
            vec![
                (at(1_700_000_000), 7.0),
                (at(1_700_000_060), 9.0),
                (at(1_700_000_120), 10.0)
            ]
        );
        assert_eq!((answer.series, answer.samples), (2, 5));
    }

    #[test]
    fn fractional_timestamps_keep_their_milliseconds() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1700000000.781,"1"]]}]}}"#;
        let answer = parse_range(body).unwrap();
        assert_eq!(
            answer.points[0].0,
            DateTime::from_timestamp_millis(1_700_000_000_781).unwrap()
        );
    }

    #[test]
    fn a_range_answer_that_is_not_a_matrix_is_malformed() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(matches!(
            parse_range(body),
            Err(ResponseError::Malformed(_))
        ));
    }

    #[test]
    fn an_empty_matrix_is_an_empty_trend() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        let answer = parse_range(body).unwrap();
        assert!(answer.points.is_empty());
        assert_eq!(answer.series, 0);
    }
}
