//! Tokio tasks that read the world and send what they see to the app as actions.

pub mod events;
pub mod follow;
pub mod otlp;
pub mod phoenix;
pub mod prometheus;
pub mod replay;
pub mod simulator;

/// A server's url as errors and names show it: without `user:password@`, which reqwest would
/// otherwise carry into every message.
pub fn shown_url(url: &reqwest::Url) -> String {
    let mut url = url.clone();
    // Cannot fail for http(s) urls, which have a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}
